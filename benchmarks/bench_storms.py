"""Throttling that is not a steady quota, against the local endpoint: a burst, random refusals, a shared
quota, and a service that throttles everything. Each row beside its own unthrottled run, in one run.

    .venv/bin/python benchmarks/bench_storms.py [--rows burst random shared forever jitter] [--seeds 7 8 9]

1. burst: every membership call answered 429 for 5 s from the first request, then none. Goal: wall within
   1.3x (unthrottled + 5 s).
2. random: a share of calls (30%, 60%) answered 429 at random, whatever the pace. Goal: within 2x (30%) and
   3x (60%) of unthrottled / (1 - share), the wall an ideal client that retries at once would take.
3. shared: a token bucket of R calls/s (burst R) of which another client takes R/2 first. Goal: sustained at
   least 80% of what is left (R/2), at most 5% of our calls answered 429.
4. forever: every call throttled, `--retry-deadline 5`. Goal: the command ends within about two deadlines
   whatever its size, and says the service throttled everything.
5. jitter: no throttling, each answer's latency drawn uniformly within 50% (80%) either way of 50 ms. Goal:
   within 1.2x of the same at a steady 50 ms (the window is not taken in by latency that varies).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from common import cli_env, run_reconciler, seed

from reconciler.sandbox import CleanRoomsSandbox

EXPECTED = {"plan": 0, "apply": 0}


@contextmanager
def memberships(sandbox: CleanRoomsSandbox, size: int) -> Iterator[Path]:
    sandbox.reset()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp, "desired-state")
        directory.mkdir()
        seed(sandbox, directory, size, lambda _: "queryLogStatus: ENABLED\n")
        yield directory


def command_line(command: str, directory: Path, extra: tuple[str, ...] = ()) -> list[str]:
    return [command, *(["--auto-approve"] if command == "apply" else []), *extra, str(directory)]


def timed(
    sandbox: CleanRoomsSandbox,
    command: str,
    size: int,
    latency: float,
    storm: Callable[[], None],
    extra: tuple[str, ...] = (),
) -> tuple[float, int, int, int, str]:
    """Wall seconds, exit status, calls and 429s of one command on fresh memberships under `storm`."""
    with memberships(sandbox, size) as directory:
        sandbox.set_latency(latency)
        sandbox.clear_requests()
        storm()
        elapsed, proc = run_reconciler(command_line(command, directory, extra), cli_env(sandbox))
        requests = sandbox.requests()
        sandbox.reset()
    throttled = sum(r.status == 429 for r in requests)
    return elapsed, proc.returncode, len(requests), throttled, proc.stdout + proc.stderr


def status(code: int, expected: int) -> str:
    return "ok" if code == expected else f"**exit {code}**"


def burst(sandbox: CleanRoomsSandbox) -> None:
    print(
        "\n| command | memberships | latency | unthrottled | 5 s burst | ideal (unthrottled + 5 s) | / ideal | 429s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for command in ("plan", "apply"):
        base, *_ = timed(sandbox, command, 1000, 0.05, lambda: None)
        wall, code, calls, throttled, _ = timed(sandbox, command, 1000, 0.05, lambda: sandbox.refuse_for(5.0))
        ideal = base + 5.0
        print(
            f"| `{command}` | 1000 | 50 ms | {base:.1f} s | {wall:.1f} s ({status(code, 0)}) | {ideal:.1f} s "
            f"| {wall / ideal:.2f}x | {throttled} of {calls} |",
            flush=True,
        )


def random_refusals(sandbox: CleanRoomsSandbox, seeds: list[int]) -> None:
    print(
        "\n| memberships | latency | refused at random | seed | unthrottled | measured | ideal (/ (1 - share)) "
        "| / ideal |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in (100, 1000):
        base, *_ = timed(sandbox, "plan", size, 0.02, lambda: None)
        for share in (0.3, 0.6):
            for draw in seeds:

                def storm(share: float = share, draw: int = draw) -> None:
                    sandbox.reseed(draw)
                    sandbox.inject("*", rate=share)

                wall, code, calls, throttled, _ = timed(sandbox, "plan", size, 0.02, storm)
                ideal = base / (1 - share)
                print(
                    f"| {size} | 20 ms | {share:.0%} ({throttled} of {calls}) | {draw} | {base:.1f} s | {wall:.1f} s "
                    f"({status(code, 0)}) | {ideal:.1f} s | {wall / ideal:.2f}x |",
                    flush=True,
                )


def shared(sandbox: CleanRoomsSandbox) -> None:
    print("\n| memberships | quota R | taken by another client | left to us | wall | sustained / left | our 429s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size, rate in ((100, 10.0), (1000, 50.0)):
        left = rate / 2
        with memberships(sandbox, size) as directory:
            sandbox.clear_requests()
            sandbox.set_rate_limit(rate, taken=left)
            wall, proc = run_reconciler(command_line("plan", directory), cli_env(sandbox))
            requests = sandbox.requests()
            sandbox.reset()
        answered = [r for r in requests if r.status == 200]
        throttled = sum(r.status == 429 for r in requests)
        # As bench_throttled.py: the bucket's burst is spent at any speed; what counts is the pace after it.
        span = answered[-1].time - requests[0].time
        sustained = (len(answered) - rate) / span / left
        print(
            f"| {size} | {rate:g}/s | {left:g}/s | {left:g}/s | {wall:.1f} s ({status(proc.returncode, 0)}) "
            f"| {sustained:.0%} | {throttled} of {len(requests)} ({throttled / len(requests):.1%}) |",
            flush=True,
        )


def forever(sandbox: CleanRoomsSandbox) -> None:
    print("\n| memberships | every call throttled, `--retry-deadline 5` | wall | calls | says |")
    print("|---:|---|---:|---:|---|")
    for size in (30, 300):
        wall, code, calls, _, output = timed(
            sandbox, "plan", size, 0.0, lambda: sandbox.refuse_for(1e9), ("--retry-deadline", "5")
        )
        says = "the service throttled every call" in output
        print(f"| {size} | exit {code} | {wall:.1f} s | {calls} | {'yes' if says else '**no**'} |", flush=True)


def jitter(sandbox: CleanRoomsSandbox) -> None:
    print("\n| memberships | latency | steady | varying | / steady |")
    print("|---:|---|---:|---:|---:|")
    steady, *_ = timed(sandbox, "plan", 1000, 0.05, lambda: None)
    for share in (0.5, 0.8):

        def vary(share: float = share) -> None:
            sandbox.reseed(7)
            sandbox.set_latency(0.05, jitter=share)

        wall, code, *_ = timed(sandbox, "plan", 1000, 0.05, vary)
        print(
            f"| 1000 | 50 ms ± {share:.0%} | {steady:.1f} s | {wall:.1f} s ({status(code, 0)}) "
            f"| {wall / steady:.2f}x |",
            flush=True,
        )


ROWS = ("burst", "random", "shared", "forever", "jitter")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS))
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[7], help="random: the endpoint's seeds, a row for each"
    )
    args = parser.parse_args()
    with CleanRoomsSandbox() as sandbox:
        for row in args.rows:
            if row == "random":
                random_refusals(sandbox, args.seeds)
            else:
                {"burst": burst, "shared": shared, "forever": forever, "jitter": jitter}[row](sandbox)


if __name__ == "__main__":
    main()
