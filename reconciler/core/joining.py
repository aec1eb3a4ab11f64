"""Joining a collaboration from a file: the plan of a join (CreateMembership with every setting the file gives,
so the membership never exists with other settings than the reviewed ones), and its request. Pure: no AWS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .desired import DesiredFile
from .invitation import Invitation
from .models import LIVE_NAMES
from .payment import PAYMENTS, designated_payer, dig, payment_problems
from .plan import FieldChange, MembershipChange, PlanError, fingerprint

# What only CreateMembership sets: part of a join's plan (and hash), a plan error on an existing membership
# whose value differs (planner.check).
JOIN_ONLY_FIELDS = ("isMetricsEnabled",)


def plan_join(
    file: DesiredFile, region: str, invitation: Invitation, designated: Mapping[str, Any]
) -> MembershipChange | list[PlanError]:
    """The join of `invitation` by `file`, or why the file cannot join: `designated` is what the creator
    designated the joining account to pay for (ListMembers)."""
    desired = file.membership
    named = f"joining collaboration {invitation.collaborationName!r} ({invitation.collaborationIdentifier})"
    problems = []
    if desired.accountId is None:
        problems.append(
            f"{named} creates a membership: the file must name the account that joins (accountId, quoted), so a "
            "join never lands in whichever account the credentials happen to reach"
        )
    if desired.queryLogStatus is None:
        problems.append(f"{named} needs queryLogStatus (ENABLED or DISABLED): CreateMembership requires it")
    managed = desired.managed()
    payment = managed.get("membershipPaymentConfiguration")
    problems += payment_problems(payment, designated, desired.accountId or "this account")
    for path, kind in PAYMENTS.items():
        if designated_payer(designated, path) and dig(payment, path) is None:
            problems.append(
                f"{named}: the collaboration's creator designated this member to pay for {kind}, which a join must "
                f"accept: membershipPaymentConfiguration.{'.'.join(path)}.isResponsible: true"
            )
    if problems:
        return [PlanError(desired.key, file.path, problem, "JoinCheck") for problem in problems]
    after = dict(managed)
    if payment is not None and "queryCompute" not in payment:
        # CreateMembership's payment shape requires queryCompute: not designated (checked above), so false.
        after["membershipPaymentConfiguration"] = {"queryCompute": {"isResponsible": False}, **payment}
    if desired.isMetricsEnabled is not None:
        after["isMetricsEnabled"] = desired.isMetricsEnabled
    origins = file.origins
    return MembershipChange(
        membershipIdentifier="",
        source=file.path,
        region=region,
        accountId=desired.accountId,
        fields=tuple(FieldChange(name, None, value, origin=origins.get(name, "file")) for name, value in after.items()),
        fingerprint=fingerprint({}),  # of no live settings: there is no membership yet
        desiredSha256=file.sha256,
        collaborationName=invitation.collaborationName,
        join=invitation,
    )


def create_request(change: MembershipChange) -> dict[str, Any]:
    """The CreateMembership request of a join: the collaboration, and every field as planned."""
    assert change.join is not None
    fields = {LIVE_NAMES.get(f.name, f.name): f.after for f in change.fields}
    return {"collaborationIdentifier": change.join.collaborationIdentifier, **fields}
