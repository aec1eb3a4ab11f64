"""Side by side, in one run, on one local endpoint with 20 ms added latency per call:
(a) `reconciler plan` over N memberships, (b) what a user would otherwise script, a shell loop of
`aws cleanrooms get-membership` (awscli from PyPI, in its own virtualenv), and CLI start-up time.

    .venv/bin/python benchmarks/bench_compare.py [--sizes 100 1000] [--latency 0.02]

Reports wall time, API calls and peak memory (max RSS of the process tree) for each, and the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import cli_env, seed

from reconciler.sandbox import CleanRoomsSandbox

HERE = Path(__file__).resolve().parent
AWSCLI_VENV = HERE / ".venv-awscli"


def awscli() -> Path:
    aws = AWSCLI_VENV / "bin" / "aws"
    if not aws.exists():
        subprocess.run([sys.executable, "-m", "venv", str(AWSCLI_VENV)], check=True)
        subprocess.run([str(AWSCLI_VENV / "bin" / "pip"), "install", "--quiet", "awscli"], check=True)
    return aws


def measured(args: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a command and everything it started."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args[:3]} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--parallelism", type=int, default=8)
    args = parser.parse_args()
    aws = awscli()

    rows = []
    with CleanRoomsSandbox() as sandbox:
        env = cli_env(sandbox)
        for size in args.sizes:
            sandbox.reset()
            with tempfile.TemporaryDirectory() as tmp:
                directory = Path(tmp)
                ids = seed(sandbox, directory, size, lambda _: "queryLogStatus: ENABLED\n")
                (directory / "ids.txt").write_text("\n".join(ids) + "\n")
                sandbox.set_latency(args.latency)

                sandbox.clear_requests()
                plan = [
                    sys.executable,
                    "-m",
                    "reconciler",
                    "--parallelism",
                    str(args.parallelism),
                    "plan",
                    "--format",
                    "json",
                    str(directory),
                ]
                plan_time, plan_rss = measured(plan, env)
                plan_calls = len(sandbox.requests())

                sandbox.clear_requests()
                loop = (
                    f'while read -r id; do "{aws}" cleanrooms get-membership --membership-identifier "$id" '
                    f'> /dev/null || exit 1; done < "{directory / "ids.txt"}"'
                )
                loop_time, loop_rss = measured(["bash", "-c", loop], env)
                loop_calls = len(sandbox.requests())
                rows.append((size, plan_time, plan_calls, plan_rss, loop_time, loop_calls, loop_rss))

    help_times = [measured([sys.executable, "-m", "reconciler", "--help"], env)[0] for _ in range(10)]
    aws_times = [measured([str(aws), "--version"], env)[0] for _ in range(5)]

    print(f"{args.latency * 1000:.0f} ms added latency per call; reconciler --parallelism {args.parallelism}\n")
    print(
        "| memberships | `reconciler plan` | API calls | peak RSS | `aws` get-membership loop | API calls | peak RSS "
        "| loop / plan |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, p_time, p_calls, p_rss, l_time, l_calls, l_rss in rows:
        print(
            f"| {size} | {p_time:.2f} s | {p_calls} | {p_rss:.0f} MiB | {l_time:.2f} s | {l_calls} | {l_rss:.0f} MiB "
            f"| {l_time / p_time:.1f}x |"
        )
    print(
        f"\nstart-up: `reconciler --help` median {statistics.median(help_times) * 1000:.0f} ms; "
        f"`aws --version` median {statistics.median(aws_times) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
