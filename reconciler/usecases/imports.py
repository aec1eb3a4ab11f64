"""`import`: desired-state files written from live memberships, so a plan right after shows no changes."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.api import AwsError, ReadOnly, Where
from ..core.desired import load
from ..core.errors import ExitStatus, InvalidDesiredState, UsageError
from .drift import active_memberships
from .plan import write_text
from .runtime import Runtime

if TYPE_CHECKING:
    from ..core.config import Guardrails
    from ..core.models import LiveMembership


@dataclass(frozen=True)
class ImportResult:
    out_dir: Path
    total: int
    written: tuple[str, ...] = ()  # one line per file written, updated or kept
    failures: tuple[str, ...] = ()

    @property
    def status(self) -> ExitStatus:
        return ExitStatus.ERROR if self.failures else ExitStatus.OK


def import_memberships(
    runtime: Runtime,
    memberships: Sequence[str],
    import_all: bool,
    out_dir: Path,
    overwrite: bool,
    by_collaboration: bool = False,
) -> ImportResult:
    """Write desired-state files from live memberships, so a plan right after shows no changes."""
    from ..core import importer
    from .reader import each, fetch

    if import_all == bool(memberships):
        raise UsageError("choose either --all or --membership ID (repeatable)")
    region = runtime.default_region()
    if region is None:
        raise UsageError("no region: pass --region or configure AWS_DEFAULT_REGION")
    guardrails, problems = runtime.guardrails()
    if problems:
        raise InvalidDesiredState(problems)
    # The files already there, valid, before any call: a broken one would be written over, or a membership it
    # names imported again into a second file.
    existing: dict[str, Path] = {}
    if out_dir.exists():
        present = load(out_dir, guardrails)
        if present.problems:
            raise InvalidDesiredState(present.problems)
        # By membership id, and by collaboration id for files that name theirs.
        existing = {
            identifier: Path(f.path)
            for f in present.files
            for identifier in (f.membership.membershipIdentifier, f.membership.collaborationIdentifier)
            if identifier is not None
        }
    where = Where(region)
    reader = ReadOnly(runtime.gateway())
    retrier = runtime.retrier()
    ids = list(memberships) or [s["id"] for s in active_memberships(reader, where, retrier)]
    written: list[str] = []
    failures: list[str] = []

    # With its tags: an import writes them (one more read per membership).
    read = each(ids, lambda membership_id: fetch(reader, retrier, where, membership_id, tags=True), runtime.parallelism)
    # Read in parallel, write the files in order: the output reads the same at any parallelism.
    for membership_id in ids:
        live = read[membership_id]
        if isinstance(live, AwsError):
            failures.append(f"{membership_id}: {live}")
            continue
        if live.status != "ACTIVE":
            failures.append(f"{membership_id}: status is {live.status}; only ACTIVE memberships are imported")
            continue
        target = existing.get(membership_id) or existing.get(live.collaborationId) or out_dir / importer.file_name(live)
        shared = _shared_defaults(guardrails, target, out_dir)
        if isinstance(shared, str):
            failures.append(f"{membership_id}: {shared}")
            continue
        written.append(_write_imported(live, target, overwrite, shared, by_collaboration))
    return ImportResult(out_dir, len(ids), tuple(written), tuple(failures))


def _shared_defaults(guardrails: Guardrails | None, target: Path, out_dir: Path) -> dict[str, Any] | str:
    """What reconciler.yaml's defaults give a file at `target`, or why they cannot be told apart."""
    if guardrails is None:
        return {}
    layers = guardrails.layers(target, out_dir)
    return "; ".join(layers.problems) if layers.problems else layers.under({})


def _write_imported(
    live: LiveMembership, path: Path, overwrite: bool, shared: Mapping[str, Any], by_collaboration: bool
) -> str:
    from ..core import importer

    if path.exists() and not overwrite:
        return f"kept {path}: it exists (--overwrite updates it in place)"
    if path.exists():
        write_text(path, importer.render_update(path.read_text(encoding="utf-8"), live), "the file")
        return f"updated {path}"
    schema = os.path.relpath(Path("schema") / "membership.schema.json", path.parent)
    write_text(path, importer.render_new(live, schema, shared, by_collaboration), "the file")
    return f"wrote {path}"
