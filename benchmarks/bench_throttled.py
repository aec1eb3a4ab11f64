"""Every command against a service quota: a token bucket of R calls/s (burst R) over all membership calls of
the account and region, reads and writes alike, on the local endpoint.

    .venv/bin/python benchmarks/bench_throttled.py [--rates 1 5 50] [--sizes 100 1000] [--commands plan apply]

For each run: the exit status, the sustained rate as a share of R, and the share of calls answered 429.
Sustained rate = (calls answered 200 - the bucket's burst) / (last answer - first answer): the burst is spent
at any speed, so what counts is how close the command stays to R after it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import cli_env, run_reconciler, seed

from reconciler.sandbox import CleanRoomsSandbox

COMMANDS = ("plan", "drift", "apply", "import")
EXPECTED_EXIT = {"plan": 0, "drift": 2, "apply": 0, "import": 0}


def command_line(command: str, directory: Path, out: Path) -> list[str]:
    if command == "apply":
        return ["apply", "--auto-approve", str(directory)]
    if command == "import":
        return ["import", "--all", "--out-dir", str(out)]
    return [command, str(directory)]


def run(sandbox: CleanRoomsSandbox, command: str, size: int, rate: float) -> tuple[str, ...]:
    sandbox.reset()
    with tempfile.TemporaryDirectory() as tmp:
        directory, out = Path(tmp, "desired"), Path(tmp, "imported")
        directory.mkdir()
        seed(sandbox, directory, size, lambda _: "queryLogStatus: ENABLED\n")
        sandbox.set_rate_limit(rate)
        elapsed, proc = run_reconciler(command_line(command, directory, out), cli_env(sandbox))
        sandbox.set_rate_limit(None)
    requests = sandbox.requests()
    answered = [r for r in requests if r.status == 200]
    throttled = sum(r.status == 429 for r in requests)
    span = answered[-1].time - requests[0].time if len(answered) > 1 else float("nan")
    sustained = (len(answered) - rate) / span / rate
    status = "ok" if proc.returncode == EXPECTED_EXIT[command] else f"**exit {proc.returncode}**"
    if proc.returncode != EXPECTED_EXIT[command]:
        print(f"<!-- {command} {size} at {rate}/s: {proc.stderr.strip()[-600:]} -->")
    return (
        f"`{command}`",
        str(size),
        f"{rate:g}/s",
        status,
        f"{elapsed:.1f} s",
        str(len(requests)),
        f"{sustained:.0%}",
        f"{throttled} ({throttled / len(requests):.1%})",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", type=float, nargs="+", default=[1, 5, 50])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--commands", nargs="+", choices=COMMANDS, default=list(COMMANDS))
    parser.add_argument("--max-seconds", type=float, default=400, help="skip runs expected to take longer")
    args = parser.parse_args()

    print("| command | memberships | limit R | result | wall | calls | sustained / R | answered 429 |")
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    with CleanRoomsSandbox() as sandbox:
        for size in args.sizes:
            for rate in args.rates:
                for command in args.commands:
                    calls = size * (2 if command == "apply" else 1)
                    if calls / rate > args.max_seconds:
                        print(f"| `{command}` | {size} | {rate:g}/s | not run (~{calls / rate:.0f} s) | | | | |")
                        continue
                    print("| " + " | ".join(run(sandbox, command, size, rate)) + " |", flush=True)


if __name__ == "__main__":
    main()
