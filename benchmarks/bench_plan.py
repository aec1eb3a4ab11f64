"""Plan N memberships against the local endpoint with added latency; compare with the ideal and sequential.

    .venv/bin/python benchmarks/bench_plan.py [--memberships 1000] [--latency 0.05] [--parallelism 8 16 32 64]

Everything runs on 127.0.0.1: moto's Clean Rooms behind reconciler.sandbox, the CLI as a subprocess.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import cli_env, run_reconciler, seed

from reconciler.sandbox import CleanRoomsSandbox


def run_validate(directory: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "reconciler", "validate", str(directory)], capture_output=True, check=True)
    return time.perf_counter() - started


def run_plan(sandbox: CleanRoomsSandbox, directory: Path, parallelism: int) -> tuple[float, int, dict[str, int]]:
    sandbox.clear_requests()
    args = ["--parallelism", str(parallelism), "plan", "--format", "json", str(directory)]
    elapsed, proc = run_reconciler(args, cli_env(sandbox))
    if proc.returncode != 0:
        raise SystemExit(f"plan failed ({proc.returncode}): {proc.stderr}")
    return elapsed, len(sandbox.requests()), json.loads(proc.stdout)["summary"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memberships", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--parallelism", type=int, nargs="+", default=[8, 16, 32, 64])
    args = parser.parse_args()

    with CleanRoomsSandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        # One in ten differs: a plan with some changes, as a real one has.
        seed(
            sandbox,
            directory,
            args.memberships,
            lambda i: f"queryLogStatus: {'ENABLED' if i % 10 == 0 else 'DISABLED'}\n",
        )
        sandbox.set_latency(args.latency)
        rows = []
        for parallelism in [*args.parallelism, 1]:
            elapsed, calls, summary = run_plan(sandbox, directory, parallelism)
            ideal = calls * args.latency / parallelism
            rows.append((parallelism, elapsed, calls, ideal, summary))
        # Start-up and loading every file, with no AWS call: the part no parallelism can hide.
        local = run_validate(directory)
        sequential = rows[-1][1]
        print(
            f"plan of {args.memberships} memberships, {args.latency * 1000:.0f} ms added latency per call; "
            f"start-up + loading the files (validate): {local:.2f} s\n"
        )
        print(
            "| parallelism | wall time (s) | API calls | ideal (s) | wall / ideal | (wall - local) / ideal "
            "| sequential / wall |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for parallelism, elapsed, calls, ideal, _ in rows:
            print(
                f"| {parallelism} | {elapsed:.2f} | {calls} | {ideal:.2f} | {elapsed / ideal:.2f}x | "
                f"{(elapsed - local) / ideal:.2f}x | {sequential / elapsed:.1f}x |"
            )
        print(f"\nsummary: {rows[0][4]}")


if __name__ == "__main__":
    main()
