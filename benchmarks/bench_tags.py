"""Tags: what managing them costs a plan. 1,000 memberships at 50 ms added latency, planned with no file managing
tags and with every file managing them, each against its floor, side by side in one run.

    .venv/bin/python benchmarks/bench_tags.py [--memberships 1000] [--latency 0.05] [--repeat 3]

A file without `tags:` must cost no tag call at all (the reads stay one GetMembership each); with `tags:` each
membership is read twice (GetMembership, then ListTagsForResource: the Membership carries no tags), and the
ratio to the floor (bare boto3 threads making the same reads, plus the reconciler's start-up) should hold.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

from common import cli_env, measured, seed

from reconciler.sandbox import CleanRoomsSandbox

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memberships", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    reconciler = [sys.executable, "-m", "reconciler"]
    rows = []
    with CleanRoomsSandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        env = cli_env(sandbox)
        startup = statistics.median(measured([*reconciler, "--help"], env)[0] for _ in range(9))
        for tagged in (False, True):
            sandbox.reset()
            directory = Path(tmp, "tagged" if tagged else "plain")
            directory.mkdir()
            # One in ten differs (its tags, or its logging): a plan with changes, as a real one has.
            settings = (
                (lambda i: f"queryLogStatus: DISABLED\ntags: {{team: {'data' if i % 10 else 'ml'}}}\n")
                if tagged
                else (lambda i: f"queryLogStatus: {'ENABLED' if i % 10 == 0 else 'DISABLED'}\n")
            )
            ids = seed(sandbox, directory, args.memberships, settings)
            for mid in ids if tagged else ():
                sandbox.set_tags(mid, {"team": "data", "aws:cloudformation:stack-name": "s"})
            ids_file = Path(tmp, f"ids-{tagged}.txt")
            ids_file.write_text("\n".join(ids) + "\n")
            sandbox.set_latency(args.latency)
            plans, floors, calls = [], [], []
            floor_command = [sys.executable, str(HERE / "floor.py"), str(ids_file), *(["--tags"] if tagged else [])]
            for _ in range(args.repeat):
                sandbox.clear_requests()
                plans.append(measured([*reconciler, "plan", "--format", "json", str(directory)], env)[0])
                calls.append(Counter(r.operation for r in sandbox.requests()))
                floors.append(float(measured(floor_command, env)[2]))
            rows.append((tagged, statistics.median(plans), statistics.median(floors), calls))
    print(
        f"{args.memberships} memberships, {args.latency * 1000:.0f} ms added latency per call; medians of "
        f"{args.repeat} alternating runs; start-up (`reconciler --help`) {startup:.2f} s\n"
    )
    print("| files manage tags | calls per plan | `reconciler plan` | floor (same reads) + start-up | ratio |")
    print("|---|---|---:|---:|---:|")
    for tagged, plan, floor, calls in rows:
        counted = "; ".join(sorted({", ".join(f"{n} {op}" for op, n in sorted(c.items())) for c in calls}))
        print(
            f"| {'all' if tagged else 'none'} | {counted} | {plan:.2f} s | {floor + startup:.2f} s "
            f"| {plan / (floor + startup):.2f}x |"
        )


if __name__ == "__main__":
    main()
