"""CI cost: seconds until a job can run the reconciler, in the plan workflow under act (the workflow stories'
harness: host mode, a fresh Python per job, nothing but loopback).

    .venv/bin/python benchmarks/bench_ci_install.py [--runs 2]

Run 1's first job is cold: it installs the hash-pinned lock into an environment of its own (from the wheels
`make setup` fetched, so no download is counted) and saves it in the Actions cache. Every later job, in that
run and the next, is warm: it restores the environment (here a copy of it on this disk, as a restore writes
every file). Each job prints "reconciler ready in N s"; this prints them per run. On GitHub, add the download
to each: the wheels from PyPI when cold (30 MB), the cache entry when warm (about 30 MB compressed).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
from pathlib import Path

from reconciler.sandbox import CleanRoomsSandbox
from tests.e2e.test_install_cache import two_targets
from tests.e2e.test_plan_workflow import pull_request_event
from tests.fakegithub import running

READY = re.compile(r"reconciler ready in ([0-9.]+) s: (installed from the lock|restored from the cache)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    cold: list[float] = []
    warm: list[float] = []
    with (
        CleanRoomsSandbox() as sandbox,
        running(repository="acme/cleanrooms") as github,
        tempfile.TemporaryDirectory() as tmp,
    ):
        repository, sha, pull = two_targets(Path(tmp), sandbox, github)
        repository.copy_cache = True  # a restore writes every file, as GitHub's does
        print("| run | job | how | ready in |\n|---:|---:|---|---:|")
        for number in range(1, args.runs + 1):
            run = repository.run("plan.yml", "pull_request", pull_request_event(pull, sha))
            if run.code != 0:
                raise SystemExit(f"run {number} failed:\n{run.log[-3000:]}")
            for job, (seconds, how) in enumerate(READY.findall(run.log), start=1):
                (cold if how.startswith("installed") else warm).append(float(seconds))
                print(f"| {number} | {job} | {how} | {float(seconds):.1f} s |", flush=True)
            sha = repository.commit(f"run {number + 1}")
        [entry] = repository.cache.iterdir()
        files = [f for f in entry.rglob("*") if f.is_file()]
        size = sum(f.stat().st_size for f in files)
    print(
        f"\ncold: {', '.join(f'{s:.1f}' for s in cold)} s; warm: median {statistics.median(warm):.1f} s, "
        f"at most {max(warm):.1f} s over {len(warm)} jobs; "
        f"the cache entry: {size / 2**20:.0f} MiB in {len(files)} files"
    )


if __name__ == "__main__":
    main()
