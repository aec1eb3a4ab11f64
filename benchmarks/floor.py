"""The machine's floor for reading N memberships: bare boto3, no validation, no diff, no retries, no pacing.

    python benchmarks/floor.py IDS_FILE [--threads 16] [--tags]

Reads every id in IDS_FILE with GetMembership (and with --tags, then its ListTagsForResource) from a pool of
threads sharing one client (the endpoint comes from AWS_ENDPOINT_URL) and prints the seconds the reads took,
client creation included. Interpreter and
import start-up are not included: bench_compare.py adds the reconciler's own start-up to this.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("ids", type=Path)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--tags", action="store_true", help="also read each membership's tags")
    args = parser.parse_args()
    ids = args.ids.read_text().split()

    started = time.perf_counter()
    config = Config(retries={"total_max_attempts": 1}, max_pool_connections=args.threads)
    client = boto3.client("cleanrooms", config=config)

    def read(membership_id: str) -> str:
        membership = client.get_membership(membershipIdentifier=membership_id)["membership"]
        if args.tags:
            client.list_tags_for_resource(resourceArn=membership["arn"])
        return str(membership["id"])

    with ThreadPoolExecutor(args.threads) as pool:
        answers = list(pool.map(read, ids))
    elapsed = time.perf_counter() - started
    if answers != ids:
        raise SystemExit("floor: an answer did not match its request")
    print(f"{elapsed:.4f}")


if __name__ == "__main__":
    main()
