"""What the benchmarks share: seeding the local endpoint and the environment a CLI subprocess gets."""

from __future__ import annotations

import os
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
