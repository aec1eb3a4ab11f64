"""What the benchmarks share: seeding the local endpoint and the environment a CLI subprocess gets."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from reconciler.sandbox import CleanRoomsSandbox


def seed(sandbox: CleanRoomsSandbox, directory: Path, count: int, desired: Callable[[int], str]) -> list[str]:
    """`count` memberships with query logging off, and a file each whose settings `desired(i)` gives."""
    ids = []
    for i in range(count):
        mid = sandbox.create_membership(f"bench-{i}", queryLogStatus="DISABLED")
        (directory / f"m{i:04d}.yaml").write_text(f"membershipIdentifier: {mid}\n{desired(i)}")
        ids.append(mid)
    return ids


def cli_env(sandbox: CleanRoomsSandbox) -> dict[str, str]:
    """This environment without AWS settings, pointed at the sandbox: nothing reaches beyond 127.0.0.1."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | sandbox.client_env()


def run_reconciler(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall seconds and the finished `python -m reconciler ARGS` process."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", *args], env=env, capture_output=True, text=True, check=False
    )
    return time.perf_counter() - started, proc


def measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and standard output of a command (RSS: the largest of its processes)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{args[:4]} failed: {err.read()[-2000:]}")
        return elapsed, usage.ru_maxrss / 1024, out.read()
