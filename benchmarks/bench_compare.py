"""Unthrottled plan against the machine's floor and against a hand-written loop, side by side in one run, on
one local endpoint with 50 ms added latency per call; and start-up.

    .venv/bin/python benchmarks/bench_compare.py [--sizes 300 1000] [--latency 0.05] [--loop-max 300]

For each size: `reconciler plan` (a real process, default options); the floor (benchmarks/floor.py: 16
threads of bare boto3 GetMembership, reads only, plus the reconciler's own start-up, `reconciler --help`);
and, up to --loop-max memberships, a shell loop of `aws cleanrooms get-membership` (awscli from PyPI in its
own virtualenv, installed on first use). Plan and floor run alternately --repeat times; medians are shown.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import cli_env, measured, seed

from reconciler.sandbox import CleanRoomsSandbox

HERE = Path(__file__).resolve().parent
AWSCLI_VENV = HERE / ".venv-awscli"


def awscli() -> Path:
    aws = AWSCLI_VENV / "bin" / "aws"
    if not aws.exists():
        subprocess.run([sys.executable, "-m", "venv", str(AWSCLI_VENV)], check=True)
        subprocess.run([str(AWSCLI_VENV / "bin" / "pip"), "install", "--quiet", "awscli"], check=True)
    return aws


def median_of(runs: int, args: list[str], env: dict[str, str]) -> float:
    return statistics.median(measured(args, env)[0] for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--loop-max", type=int, default=300, help="run the aws-cli loop up to this size")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    aws = awscli()
    reconciler = [sys.executable, "-m", "reconciler"]

    rows = []
    with CleanRoomsSandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        env = cli_env(sandbox)
        ten = Path(tmp, "ten")
        ten.mkdir()
        seed(sandbox, ten, 10, lambda _: "queryLogStatus: ENABLED\n")
        startup = {
            "`python -c pass`": median_of(15, [sys.executable, "-c", "pass"], env),
            "`reconciler --help`": median_of(15, [*reconciler, "--help"], env),
            "`reconciler validate` (10 files)": median_of(15, [*reconciler, "validate", str(ten)], env),
            "`aws --version`": median_of(5, [str(aws), "--version"], env),
        }
        for size in args.sizes:
            sandbox.reset()
            directory = Path(tmp, str(size))
            directory.mkdir()
            ids = seed(sandbox, directory, size, lambda _: "queryLogStatus: ENABLED\n")
            ids_file = Path(tmp, f"ids-{size}.txt")
            ids_file.write_text("\n".join(ids) + "\n")
            sandbox.set_latency(args.latency)
            plans, floors, rss, calls = [], [], [], set()
            for _ in range(args.repeat):
                sandbox.clear_requests()
                elapsed, peak, _ = measured([*reconciler, "plan", "--format", "json", str(directory)], env)
                plans.append(elapsed)
                rss.append(peak)
                gets = [r for r in sandbox.requests() if r.operation == "GetMembership"]
                calls.add((len(sandbox.requests()), len({r.path for r in gets}) == len(gets) == size))
                floors.append(float(measured([sys.executable, str(HERE / "floor.py"), str(ids_file)], env)[2]))
            plan, floor = statistics.median(plans), statistics.median(floors)
            loop = None
            if size <= args.loop_max:
                script = (
                    f'while read -r id; do "{aws}" cleanrooms get-membership --membership-identifier "$id" '
                    f'> /dev/null || exit 1; done < "{ids_file}"'
                )
                loop = measured(["bash", "-c", script], env)[0]
            rows.append((size, plan, max(rss), calls, floor, loop))

    help_time = startup["`reconciler --help`"]
    print(f"{args.latency * 1000:.0f} ms added latency per call; medians of {args.repeat} alternating runs\n")
    print(
        "| memberships | `reconciler plan` | peak RSS | calls (one GetMembership each) | floor: 16 bare boto3 threads "
        "| floor + start-up | plan / (floor + start-up) | `aws` get-membership loop | loop / plan |"
    )
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for size, plan, peak, calls, floor, loop in rows:
        counts = ", ".join(f"{n} ({'yes' if one_each else 'NO'})" for n, one_each in sorted(calls))
        loop_cells = f"{loop:.1f} s | {loop / plan:.0f}x" if loop is not None else "not run | "
        print(
            f"| {size} | {plan:.2f} s | {peak:.0f} MiB | {counts} | {floor:.2f} s | {floor + help_time:.2f} s "
            f"| {plan / (floor + help_time):.2f}x | {loop_cells} |"
        )
    print("\n| start-up (median) | seconds |\n|---|---:|")
    for name, seconds in startup.items():
        print(f"| {name} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
