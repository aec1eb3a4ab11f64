"""Apply changes to N memberships against the local endpoint with a server-side rate limit.

    .venv/bin/python benchmarks/bench_apply.py [--memberships 1000] [--limit 50] [--parallelism 8]

Reports the write throughput achieved as a share of the limit, the 429s received and all attempts. The
limit is a token bucket over every membership call (reads too), as a service quota would be.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import cli_env, run_reconciler, seed

from reconciler.sandbox import CleanRoomsSandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memberships", type=int, default=1000)
    parser.add_argument("--limit", type=float, default=50.0)
    parser.add_argument("--parallelism", type=int, default=8)
    args = parser.parse_args()

    with CleanRoomsSandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        seed(sandbox, directory, args.memberships, lambda _: "queryLogStatus: ENABLED\njobLogStatus: ENABLED\n")
        sandbox.set_rate_limit(args.limit)
        command = ["--parallelism", str(args.parallelism), "apply", "--auto-approve", "--max-attempts", "10"]
        elapsed, proc = run_reconciler([*command, str(directory)], cli_env(sandbox))
        requests = sandbox.requests()
        writes = [r for r in requests if r.operation == "UpdateMembership"]
        ok_writes = [r for r in writes if r.status == 200]
        reads = [r for r in requests if r.operation == "GetMembership"]
        throttled = [r for r in requests if r.status == 429]
        span = ok_writes[-1].time - ok_writes[0].time if len(ok_writes) > 1 else float("nan")
        write_rate = (len(ok_writes) - 1) / span
        converged = sum(sandbox.membership(r.membership_id or "")["jobLogStatus"] == "ENABLED" for r in ok_writes)
        print(
            f"apply to {args.memberships} memberships, server limit {args.limit:.0f} calls/s, "
            f"parallelism {args.parallelism}: exit {proc.returncode}, {elapsed:.1f} s in all\n"
        )
        print("| measure | value |")
        print("|---|---:|")
        print(f"| write throughput (successful writes/s) | {write_rate:.1f} |")
        print(f"| share of the limit | {write_rate / args.limit:.0%} |")
        print(f"| writes succeeded / attempted | {len(ok_writes)} / {len(writes)} |")
        print(f"| reads | {len(reads)} |")
        print(
            f"| 429s received / all calls | {len(throttled)} / {len(requests)} ({len(throttled) / len(requests):.1%}) |"
        )
        print(f"| memberships converged | {converged} |")
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-2000:])


if __name__ == "__main__":
    main()
