"""`plan`, and the steps every command that reads AWS shares: select the files, resolve each one's account
and region, read the live memberships and diff them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.api import MembershipReader
from ..core.desired import DesiredFile
from ..core.errors import ExitStatus, NothingSelected, OutputNotWritable
from ..core.plan import Plan, PlanError, Selection
from ..core.planner import ResolvedFile, build_plan, resolve_regions
from ..core.retry import THROTTLE_CODES
from .runtime import Runtime
from .validate import load_desired


def select_files(files: Sequence[DesiredFile], selection: Selection, path: Path) -> list[DesiredFile]:
    """The files --membership names, by membership id or, for a file that names its collaboration, by that."""
    if selection.memberships:
        unknown = sorted(selection.memberships - {i for f in files for i in f.names})
        if unknown:
            raise NothingSelected(
                f"--membership names no file under {path}: {', '.join(unknown)} (a file that names its "
                "collaboration is selected by the collaboration's id)"
            )
    return [f for f in files if not selection.memberships or f.names & selection.memberships]


def resolve(
    runtime: Runtime, files: Sequence[DesiredFile], selection: Selection, path: Path
) -> tuple[list[ResolvedFile], list[PlanError]]:
    """Each file's region; with --target, only that account and region, which must select something."""
    resolved, errors = resolve_regions(files, runtime.default_region())
    if selection.where is None:
        return resolved, errors
    kept = [r for r in resolved if r.where == selection.where]  # the files are --membership's already
    if not kept:
        covered = ", ".join(sorted({r.where.label for r in resolved})) or "none"
        raise NothingSelected(
            f"--target {selection.where.label} selects no membership under {path} (the files cover: {covered})"
        )
    return kept, errors


def read_plan(
    runtime: Runtime,
    resolved: Sequence[ResolvedFile],
    errors: Sequence[PlanError],
    reader: MembershipReader,
    label: str = "Reading memberships",
) -> Plan:
    from .collaborations import join_designations, resolve_collaborations
    from .reader import read_live, with_designations

    retrier = runtime.retrier()
    found, unresolved = resolve_collaborations(reader, retrier, resolved, runtime.parallelism)
    existing = [r for r in found if r.invitation is None]
    joins = [r for r in found if r.invitation is not None]
    with runtime.progress(len(existing), label) as advance:
        live = read_live(reader, existing, retrier, runtime.parallelism, advance)
    live = with_designations(reader, retrier, existing, live, runtime.parallelism)
    designated = join_designations(reader, retrier, joins, runtime.parallelism)
    guardrails, _problems = runtime.guardrails()  # loaded, and found sound, with the files
    allowed = guardrails.accounts if guardrails is not None else None
    return build_plan(found, live, allowed, designated).with_errors([*errors, *unresolved])


def cannot_plan(errors: Sequence[PlanError]) -> str:
    count = len({e.membershipIdentifier for e in errors})
    if count > 1 and all(e.code in THROTTLE_CODES for e in errors):
        return (
            f"the service throttled every call: {count} memberships cannot be planned; nothing will be applied "
            "(try again later, or with a longer --retry-deadline)"
        )
    return f"{count} membership(s) cannot be planned; nothing will be applied"


def fresh_plan(runtime: Runtime, path: Path, selection: Selection) -> Plan:
    return plan_files(runtime, load_desired(path, runtime.guardrails()), selection, path)


def plan_files(runtime: Runtime, files: Sequence[DesiredFile], selection: Selection, path: Path) -> Plan:
    resolved, errors = resolve(runtime, select_files(files, selection, path), selection, path)
    return read_plan(runtime, resolved, errors, runtime.gateway()).made_for(selection)


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    status: ExitStatus
    messages: tuple[str, ...] = ()  # for stderr, after the plan


def plan(
    runtime: Runtime,
    path: Path,
    selection: Selection,
    out: Path | None,
    detailed: bool,
    expect_changes_hash: str | None = None,
) -> PlanResult:
    result = fresh_plan(runtime, path, selection)
    if result.errors:
        messages = [cannot_plan(result.errors)]
        if out is not None:
            messages.append(f"the plan was not saved to {out}: it has errors")
        return PlanResult(result, ExitStatus.ERROR, tuple(messages))
    if out is not None:
        write_text(out, result.dumps(), "the plan to")
    if expect_changes_hash is not None and result.changes_hash() != expect_changes_hash:
        # The apply workflow plans first, so approvers see a plan that differs from the reviewed one fail
        # before anyone is asked to approve it.
        message = (
            f"the plan is not the one reviewed: its changes hash is {result.changes_hash()}, "
            f"the reviewed one {expect_changes_hash}"
        )
        return PlanResult(result, ExitStatus.ERROR, (message,))
    status = ExitStatus.CHANGES if detailed and result.changes else ExitStatus.OK
    return PlanResult(result, status)


def write_text(path: Path, text: str, what: str) -> None:
    """Write a file the user named, creating its directory; an OSError becomes a one-line error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise OutputNotWritable(what, str(path), error) from error
