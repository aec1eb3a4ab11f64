"""`drift`: a plan through a reader that cannot write, and the memberships no file manages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.api import AwsError, MembershipReader, ReadOnly, Where
from ..core.errors import AwsCallFailed, ExitStatus
from ..core.invitation import Invitation
from ..core.plan import Plan, Selection, Unmanaged
from .plan import read_plan, resolve, select_files
from .runtime import Runtime
from .validate import load_desired

if TYPE_CHECKING:
    from ..core.retry import Retrier


@dataclass(frozen=True)
class DriftResult:
    report: Plan

    @property
    def status(self) -> ExitStatus:
        if self.report.errors:
            return ExitStatus.ERROR
        return ExitStatus.CHANGES if self.report.changes else ExitStatus.OK

    @property
    def messages(self) -> tuple[str, ...]:
        return (f"{len(self.report.errors)} error(s) while checking drift",) if self.report.errors else ()


def drift(
    runtime: Runtime, path: Path, selection: Selection, report_unmanaged: bool, attribution_days: int | None = None
) -> DriftResult:
    """A plan through a reader with no update method: drift cannot write, and runs under a read-only role.
    With `attribution_days`, each drifted membership says who wrote it in that many days (CloudTrail)."""
    files = load_desired(path, runtime.guardrails())
    chosen = select_files(files, selection, path)
    resolved, errors = resolve(runtime, chosen, selection, path)
    reader = ReadOnly(runtime.gateway())
    report = read_plan(runtime, resolved, errors, reader).made_for(selection)
    if attribution_days and report.changes:
        from .attribution import attribute_drift

        guardrails, _problems = runtime.guardrails()  # loaded, and found sound, with the files
        ignored = guardrails.ignore_changes_by if guardrails is not None else ()
        report = attribute_drift(reader, runtime.retrier(), report, attribution_days, ignored)
    if report_unmanaged:
        # By id, or by collaboration for files that name theirs (an account has one membership in each).
        named = [(f.membership.membershipIdentifier, f.membership.collaborationIdentifier) for f in files]
        managed: set[str | None] = {i for pair in named for i in pair if i is not None}
        places = {r.where for r in resolved}
        unmanaged = find_unmanaged(runtime, reader, places, managed)
        report = report.with_unmanaged(unmanaged, find_invitations(runtime, reader, places, managed))
    return DriftResult(report)


def find_unmanaged(
    runtime: Runtime, reader: MembershipReader, places: set[Where], managed: set[str | None]
) -> list[Unmanaged]:
    found: list[Unmanaged] = []
    retrier = runtime.retrier()
    for where in sorted(places, key=lambda place: place.label):
        found += [
            Unmanaged(s["id"], s.get("collaborationName", ""), where.region, s.get("arn", ""))
            for s in active_memberships(reader, where, retrier)
            if not {s["id"], s.get("collaborationId")} & managed and s.get("status", "ACTIVE") == "ACTIVE"
        ]
    return found


def find_invitations(
    runtime: Runtime, reader: MembershipReader, places: set[Where], named: set[str | None]
) -> list[Invitation]:
    """The invitations in these accounts and regions that no file joins."""
    from .collaborations import pending_invitations

    joined = {i for i in named if i is not None}
    found, problems = pending_invitations(
        reader, runtime.retrier(), sorted(places, key=lambda p: p.label), joined, runtime.parallelism
    )
    if problems:
        raise AwsCallFailed(problems[0], problems[1:])
    return found


def active_memberships(reader: MembershipReader, where: Where, retrier: Retrier) -> list[Mapping[str, Any]]:
    from .reader import list_active

    try:
        return list_active(reader, retrier, where)
    except AwsError as error:
        raise AwsCallFailed(f"cannot list memberships in {where}: {error}") from error
