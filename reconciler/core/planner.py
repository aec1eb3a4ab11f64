"""Pure planning: desired file + live membership -> change or error. No AWS, no I/O.

Only the fields a file manages are compared. API defaults are normalised away so they are never drift:
a missing `keyPrefix` equals a live "" and a missing `singleFileOutput` equals a live false. Server-only
fields (updateTime, arn, abilities, payment) never enter the comparison.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .api import Where
from .desired import DesiredFile
from .invitation import Invitation
from .joining import plan_join
from .models import MANAGED_FIELDS, LiveMembership
from .payment import payment_problems
from .plan import (
    PARTIAL_FIELDS,
    FieldChange,
    LeafChange,
    MembershipChange,
    Plan,
    PlanError,
    covers,
    fingerprint,
    laid_over,
    normalize,
)


@dataclass(frozen=True)
class ResolvedFile:
    """A desired file with the region it resolves to: what planning reads and diffs. A file that names its
    collaboration also gets what ListCollaborations said: the account's membership in it, or an invitation."""

    file: DesiredFile
    region: str
    found: str | None = None
    invitation: Invitation | None = None

    @property
    def where(self) -> Where:
        return Where(self.region, self.file.membership.accountId)

    @property
    def membership_id(self) -> str:
        """The id reading and planning know this file by: its membership's, else `collaboration:ID`."""
        return self.file.membership.membershipIdentifier or self.found or self.file.membership.key


def same(name: str, one: Any, other: Any) -> bool:
    """Equal as the service sees it: API defaults filled in on both sides."""
    return bool(normalize(name, one) == normalize(name, other))


def managed_live(live: LiveMembership, managed: Iterable[str]) -> dict[str, Any]:
    return {name: live.settings.get(name) for name in MANAGED_FIELDS if name in managed}


def live_fingerprint(settings: Mapping[str, Any]) -> str:
    return fingerprint({name: normalize(name, value) for name, value in settings.items()})


def diff(target: ResolvedFile, live: LiveMembership) -> MembershipChange:
    desired = target.file.membership.managed()
    origins = target.file.origins
    fields = []
    for name in MANAGED_FIELDS:
        if name not in desired:
            continue
        before = live.settings.get(name)
        origin = origins.get(name, "file")
        if name in PARTIAL_FIELDS:
            if not covers(before, desired[name]):
                after = laid_over(before, desired[name])
                fields.append(FieldChange(name, before, after, leaves(name, before, after), desired[name], origin))
            continue
        after = desired[name]
        if not same(name, before, after):
            fields.append(FieldChange(name, before, after, leaves(name, before, after), origin=origin))
    planned_from = managed_live(live, desired)
    return MembershipChange(
        membershipIdentifier=target.membership_id,
        source=target.file.path,
        region=target.region,
        accountId=target.file.membership.accountId,
        fields=tuple(fields),
        fingerprint=live_fingerprint(planned_from),
        desiredSha256=target.file.sha256,
        collaborationName=live.collaborationName,
        liveSettings=planned_from,
        arn=live.arn,
    )


def remaining(change: MembershipChange, live: LiveMembership) -> dict[str, Any]:
    """The planned fields that still differ from live: what a write should send now (maybe nothing)."""
    left: dict[str, Any] = {}
    for f in change.fields:
        now = live.settings.get(f.name)
        if f.managed is not None:
            # Whether the service replaces membershipPaymentConfiguration whole or merges it, its model does
            # not say: sending the value just read with the managed sub-keys laid over it keeps every
            # unmanaged sub-key either way (assumed: replaced whole, as the nested result objects are).
            if not covers(now, f.managed):
                left[f.name] = laid_over(now, f.managed)
        elif not same(f.name, now, f.after):
            left[f.name] = f.after
    return left


def stale_fields(change: MembershipChange, live: LiveMembership) -> list[str]:
    """Managed fields that changed since planning, whatever they changed to: a saved plan was reviewed as a
    whole against the live values it shows, so even a field that moved to its planned value makes it stale
    (Terraform's rule). Our own earlier write of the same plan is not told apart: run plan again."""
    if live_fingerprint(managed_live(live, change.liveSettings)) == change.fingerprint:
        return []
    return [
        name
        for name, planned_from in change.liveSettings.items()
        if not same(name, live.settings.get(name), planned_from)
    ]


def leaves(name: str, before: Any, after: Any) -> tuple[LeafChange, ...]:
    if not (isinstance(before, Mapping) and isinstance(after, Mapping)):
        return ()
    # Imported on first use: only nested changes need it, and it costs ~50 ms of every start-up.
    from deepdiff import DeepDiff

    tree = DeepDiff(normalize(name, before), normalize(name, after), view="tree")
    found = []
    for report, levels in tree.items():
        kind = {"dictionary_item_added": "added", "dictionary_item_removed": "removed"}.get(report, "changed")
        for level in levels:
            path = ".".join(str(part) for part in level.path(output_format="list"))
            found.append(
                LeafChange(
                    path,
                    None if kind == "added" else level.t1,
                    None if kind == "removed" else level.t2,
                    kind,
                )
            )
    return tuple(sorted(found, key=lambda leaf: leaf.path))


def check(target: ResolvedFile, live: LiveMembership, allowed: frozenset[str] | None = None) -> list[str]:
    """Why this membership cannot be planned; empty when it can. Each would fail (or misfire) at apply.
    `allowed`: reconciler.yaml's account allow-list, if any."""
    desired = target.file.membership
    problems = []
    if live.status != "ACTIVE":
        problems.append(f"status is {live.status}; only an ACTIVE membership can be updated")
    if desired.accountId is not None and desired.accountId != live.accountId:
        problems.append(f"accountId guard is {desired.accountId} but the membership is in account {live.accountId}")
    if desired.accountId is None and allowed is not None and live.accountId not in allowed:
        # Checked here, not in validate: a file without accountId reaches the caller's own account, known only
        # from the live ARN (no STS call on every validate).
        problems.append(
            f"the membership is in account {live.accountId}, which reconciler.yaml's accounts allow-list does not "
            f"list ({', '.join(sorted(allowed))}); the file names no accountId, so it reaches the caller's account"
        )
    if desired.collaborationName is not None and desired.collaborationName != live.collaborationName:
        problems.append(
            f"collaborationName guard is {desired.collaborationName!r} "
            f"but the membership belongs to {live.collaborationName!r}"
        )
    payment = desired.managed().get("membershipPaymentConfiguration")
    problems += payment_problems(payment, live.designatedPayment or {}, live.accountId)
    if desired.isMetricsEnabled is not None and desired.isMetricsEnabled != bool(live.metricsEnabled):
        problems.append(
            f"isMetricsEnabled is {str(desired.isMetricsEnabled).lower()} but the membership has "
            f"{str(bool(live.metricsEnabled)).lower()}: it is settable only when joining (CreateMembership), and "
            "UpdateMembership cannot change it"
        )
    if "defaultResultConfiguration" in desired.model_fields_set and "CAN_RECEIVE_RESULTS" not in live.memberAbilities:
        problems.append(
            "defaultResultConfiguration is managed but this member cannot receive results "
            f"(abilities: {', '.join(live.memberAbilities) or 'none'}); only a member with "
            "CAN_RECEIVE_RESULTS has a query result configuration"
        )
    return problems


def plan_one(
    target: ResolvedFile, live: LiveMembership, allowed: frozenset[str] | None = None
) -> MembershipChange | list[PlanError]:
    problems = check(target, live, allowed)
    if problems:
        return [PlanError(target.membership_id, target.file.path, p, "PlanCheck") for p in problems]
    return diff(target, live)


def build_plan(
    targets: Iterable[ResolvedFile],
    live: Mapping[str, LiveMembership | PlanError],
    allowed: frozenset[str] | None = None,
    designated: Mapping[str, Mapping[str, Any] | PlanError] | None = None,
) -> Plan:
    """`live` maps each membership id to what was read, or to why it could not be read; `allowed` is
    reconciler.yaml's account allow-list, if any; `designated`, for each join, the payments the creator
    designated for the joining account (or why they could not be read)."""
    changes: list[MembershipChange] = []
    errors: list[PlanError] = []
    for target in targets:
        result: MembershipChange | list[PlanError] | PlanError
        if target.invitation is not None:
            payers = (designated or {})[target.membership_id]
            result = (
                payers
                if isinstance(payers, PlanError)
                else plan_join(target.file, target.region, target.invitation, payers)
            )
        else:
            found = live[target.membership_id]
            result = found if isinstance(found, PlanError) else plan_one(target, found, allowed)
        if isinstance(result, PlanError):
            errors.append(result)
            continue
        if isinstance(result, MembershipChange):
            changes.append(result)
        else:
            errors.extend(result)
    return Plan.build(changes, errors)


def resolve_regions(
    files: Iterable[DesiredFile], default_region: str | None
) -> tuple[list[ResolvedFile], list[PlanError]]:
    """Each file's region: its own `region`, else --region, else the AWS configuration's."""
    targets: list[ResolvedFile] = []
    errors: list[PlanError] = []
    for file in files:
        region = file.membership.region or default_region
        if region is None:
            errors.append(
                PlanError(
                    file.membership.key,
                    file.path,
                    "no region: set `region` in the file, pass --region, or configure AWS_DEFAULT_REGION",
                    "NoRegion",
                )
            )
        else:
            targets.append(ResolvedFile(file, region))
    return targets, errors
