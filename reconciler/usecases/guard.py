"""reconciler.yaml's guardrails on a plan about to be written: the one gate every path to a write passes
(a fresh plan, a saved one, a --target or --membership slice), after the last read and before the first
write."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.api import ReadOnly, Where
from ..core.desired import DesiredFile
from ..core.errors import ApplyRefused, InvalidDesiredState
from ..core.plan import Plan, describe
from ..core.planner import resolve_regions
from .plan import read_plan
from .runtime import Runtime
from .validate import load_desired

if TYPE_CHECKING:
    from ..core.models import LiveMembership


# octoDNS's rule: a share of a small set is noise (1 of 4 is 25%), so the guard starts at ten memberships.
MIN_GUARDED_MEMBERSHIPS = 10


@dataclass(frozen=True)
class Census:
    """What maxChangesPercent is judged on: the whole desired state's size, and for each account/region a
    plan touches, every membership in it and those that would change."""

    desired: int
    members: Mapping[Where, frozenset[str]]
    changing: Mapping[Where, frozenset[str]]


def guard(
    runtime: Runtime,
    planned: Plan,
    live: Mapping[str, LiveMembership],
    census: Callable[[], Census],
    force: bool,
) -> None:
    """reconciler.yaml on the plan about to be written, whichever path made it (a fresh plan, a saved one,
    a --target or --membership slice): the allow-list and the policies on each change's settings as they
    will be, then maxChangesPercent on whole account/regions. Refuses before any write."""
    guardrails, problems = runtime.guardrails()
    if problems:
        raise InvalidDesiredState(problems)
    if guardrails is None:
        return
    refusals = []
    for change in planned.changes:
        found = live.get(change.membershipIdentifier)  # none for a join, which names its account
        account = change.accountId or (found.accountId if found is not None else None)
        effective = {
            "membershipIdentifier": change.membershipIdentifier,
            "region": change.region,
            **({"accountId": change.accountId} if change.accountId else {}),
            **({"collaborationName": change.collaborationName} if change.collaborationName else {}),
            **change.settings_after(),
        }
        refusals += [
            f"error: {change.source}: {describe(change)}: {refusal}"
            for refusal in guardrails.refusals(effective, account)
        ]
    if refusals:
        raise ApplyRefused(f"the plan breaks {guardrails.path}; nothing was applied", refusals)
    if guardrails.max_changes_percent is not None:
        _check_blast_radius(runtime, guardrails.max_changes_percent, guardrails.path, census(), force)


def census(runtime: Runtime, path: Path, planned: Plan, files: list[DesiredFile] | None, sliced: bool) -> Census:
    """The totals of the whole account/regions the plan touches. A fresh plan of whole targets is its own
    census; a slice (--membership, a saved plan) is judged on a fresh read of its targets, counting its
    own changes too, so no way of slicing gets more past the guard than a whole apply would."""
    if files is None:
        files = load_desired(path, runtime.guardrails())
    places = {m.where for m in planned.changes}
    whole = planned
    if sliced:
        resolved, _errors = resolve_regions(files, runtime.default_region())
        inside = [r for r in resolved if r.where in places]
        whole = read_plan(runtime, inside, [], ReadOnly(runtime.gateway()), "Reading memberships (maxChangesPercent)")
    members: dict[Where, set[str]] = {where: set() for where in places}
    changing: dict[Where, set[str]] = {where: set() for where in places}
    for plan in (whole, planned):
        for m in plan.memberships:
            if m.where in places:
                members[m.where].add(m.key)
                if m.changed:
                    changing[m.where].add(m.key)
    return Census(
        len(files),
        {where: frozenset(ids) for where, ids in members.items()},
        {where: frozenset(ids) for where, ids in changing.items()},
    )


def _check_blast_radius(runtime: Runtime, percent: int, config: str, census: Census, force: bool) -> None:
    """Refuse when more than `percent` of an account/region's memberships would change, in a desired state
    of at least MIN_GUARDED_MEMBERSHIPS, unless --force."""
    if census.desired < MIN_GUARDED_MEMBERSHIPS:
        return
    for where in sorted(census.members, key=lambda w: w.label):
        total, changing = len(census.members[where]), len(census.changing[where])
        if changing * 100 <= percent * total:
            continue
        counted = f"{changing} of {total} memberships in {where.label}"
        if force:
            runtime.notify(f"note: {counted} change, past maxChangesPercent {percent}; --force")
            continue
        raise ApplyRefused(
            f"{counted} would change ({changing * 100 / total:.0f}%), more than maxChangesPercent {percent} in "
            f"{config}; nothing was applied (check the plan, then apply again with --force if it is meant)"
        )
