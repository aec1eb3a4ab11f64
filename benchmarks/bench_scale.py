"""Scale: `plan` over many memberships spread across many account/region targets, each account reached by
assuming its role through the local endpoint's STS, as an organisation with one role per account would.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 1000 3000 10000] [--accounts 50] [--regions 2]

For each size: wall time, the calls made (GetMembership and AssumeRole), peak RSS of the plan process, and
time per 1,000 memberships (linear growth keeps it flat).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from common import cli_env, measured

from reconciler.sandbox import CleanRoomsSandbox

REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2")
TEMPLATE = "arn:aws:iam::{accountId}:role/cleanrooms-reconciler"


def seed(sandbox: CleanRoomsSandbox, directory: Path, size: int, places: list[tuple[str, str]]) -> None:
    for i in range(size):
        account, region = places[i % len(places)]
        mid = sandbox.create_membership(f"scale-{i}", region=region, account_id=account, queryLogStatus="DISABLED")
        # One in ten differs: a plan with changes, as a real one has.
        status = "ENABLED" if i % 10 == 0 else "DISABLED"
        (directory / f"m{i:05d}.yaml").write_text(
            f'membershipIdentifier: {mid}\nregion: {region}\naccountId: "{account}"\nqueryLogStatus: {status}\n'
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--regions", type=int, default=2, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    accounts = [f"{100000000000 + i:012d}" for i in range(args.accounts)]
    places = [(account, region) for account in accounts for region in REGIONS[: args.regions]]

    rows = []
    with CleanRoomsSandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        env = cli_env(sandbox)
        for size in args.sizes:
            sandbox.reset()
            directory = Path(tmp, str(size))
            directory.mkdir()
            seed(sandbox, directory, size, places)
            sandbox.set_latency(args.latency)
            sandbox.clear_requests()
            command = [sys.executable, "-m", "reconciler", "--assume-role-template", TEMPLATE]
            command += ["plan", "--format", "json", str(directory)]
            elapsed, rss, out = measured(command, env)
            summary = json.loads(out)["summary"]
            requests = sandbox.requests()
            gets = sum(r.operation == "GetMembership" for r in requests)
            targets = len({(r.account, r.region) for r in requests if r.operation == "GetMembership"})
            rows.append((size, targets, elapsed, gets, len(requests) - gets, rss, summary))

    print(
        f"{args.latency * 1000:.0f} ms added latency per call; {len(places)} account/region targets "
        f"({args.accounts} accounts, one assumed role each)\n"
    )
    print("| memberships | targets | wall | GetMembership | other calls | peak RSS | s per 1,000 | to change |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, targets, elapsed, gets, other, rss, summary in rows:
        print(
            f"| {size} | {targets} | {elapsed:.1f} s | {gets} | {other} | {rss:.0f} MiB "
            f"| {elapsed / size * 1000:.2f} | {summary['toChange']} |"
        )


if __name__ == "__main__":
    main()
