"""Files that name their collaboration: one ListCollaborations pass per account and region finds the
account's membership in each (or its invitation, which the plan joins); and the invitations no file joins."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..core.api import AwsError, MembershipReader, Where
from ..core.invitation import Invitation
from ..core.plan import PlanError
from ..core.planner import ResolvedFile
from ..core.retry import Retrier
from .reader import designation, each, members_of, pages

Listing = dict[str, Mapping[str, Any]]


def list_collaborations(reader: MembershipReader, retrier: Retrier, where: Where) -> Listing:
    """Every collaboration the account is invited to or a member of, by id, paged to the end."""
    listing = functools.partial(reader.list_collaborations, where)
    return {str(summary["id"]): summary for page in pages(retrier, listing) for summary in page.summaries}


def listings(
    reader: MembershipReader, retrier: Retrier, places: Sequence[Where], parallelism: int
) -> dict[Where, Listing | AwsError]:
    return each(places, lambda where: list_collaborations(reader, retrier, where), parallelism)


def resolve_collaborations(
    reader: MembershipReader, retrier: Retrier, targets: Sequence[ResolvedFile], parallelism: int
) -> tuple[list[ResolvedFile], list[PlanError]]:
    """Each file that names its collaboration, with the account's membership in it or its invitation; a file
    whose collaboration the account is neither in nor invited to is an error, and so is one that names a
    membership the collaboration does not hold, or a membership another file names too."""
    named = {t.where for t in targets if t.file.membership.collaborationIdentifier is not None}
    places = sorted(named, key=lambda where: where.label)  # Where(None) and Where(account) do not compare
    listed = listings(reader, retrier, places, parallelism) if places else {}
    kept: list[ResolvedFile] = []
    errors: list[PlanError] = []
    for target in targets:
        collaboration = target.file.membership.collaborationIdentifier
        if collaboration is None:
            kept.append(target)
            continue
        found = _resolved(target, collaboration, listed[target.where])
        if isinstance(found, PlanError):
            errors.append(found)
        else:
            kept.append(found)
    return _one_file_each(kept, errors)


def _resolved(target: ResolvedFile, collaboration: str, listing: Listing | AwsError) -> ResolvedFile | PlanError:
    def error(message: str, code: str) -> PlanError:
        return PlanError(target.membership_id, target.file.path, message, code)

    if isinstance(listing, AwsError):
        return error(f"cannot list the collaborations of {target.where.label}: {listing}", listing.code)
    summary = listing.get(collaboration)
    if summary is None:
        return error(
            f"collaboration {collaboration}: {target.where.label} is neither invited to it nor a member of it "
            "(ListCollaborations does not list it); nothing is written",
            "CollaborationNotFound",
        )
    named = target.file.membership.membershipIdentifier
    status, membership = summary.get("memberStatus"), summary.get("membershipId")
    title = f"collaboration {collaboration} ({summary.get('name', '')})"
    if status == "ACTIVE" and membership:
        if named is not None and named != membership:
            return error(
                f"membershipIdentifier is {named}, but the account's membership in {title} is {membership}",
                "MembershipMismatch",
            )
        return replace(target, found=str(membership))
    if status == "INVITED" and not membership:
        if named is not None:
            return error(
                f"membershipIdentifier is {named}, but the account has not joined {title}: it is invited; leave "
                "membershipIdentifier out to join it",
                "NotJoined",
            )
        return replace(target, invitation=Invitation.from_summary(summary, target.region, target.where.account))
    return error(f"the account's status in {title} is {status}; only an invitation can be joined", "NotInvited")


def _one_file_each(targets: list[ResolvedFile], errors: list[PlanError]) -> tuple[list[ResolvedFile], list[PlanError]]:
    """A file naming a membership and another naming its collaboration are one membership in two files."""
    by_id: dict[str, list[ResolvedFile]] = {}
    for target in targets:
        by_id.setdefault(target.membership_id, []).append(target)
    kept = []
    for target in targets:
        others = [o.file.path for o in by_id[target.membership_id] if o is not target]
        if others:
            message = f"is also managed by {', '.join(others)}; one file per membership"
            errors.append(PlanError(target.membership_id, target.file.path, message, "DuplicateMembership"))
        else:
            kept.append(target)
    return kept, errors


def join_designations(
    reader: MembershipReader, retrier: Retrier, joins: Sequence[ResolvedFile], parallelism: int
) -> dict[str, Mapping[str, Any] | PlanError]:
    """For each join, what the collaboration's creator designated the joining account to pay for: one
    ListMembers per collaboration. A file that joins names its account (planned as an error otherwise)."""
    keys = {(j.where, j.invitation.collaborationIdentifier) for j in joins if j.invitation is not None}
    listed = members_of(reader, retrier, keys, parallelism)
    result: dict[str, Mapping[str, Any] | PlanError] = {}
    for join in joins:
        assert join.invitation is not None
        collaboration = join.invitation.collaborationIdentifier
        result[join.membership_id] = designation(listed, join, collaboration, join.file.membership.accountId)
    return result


def pending_invitations(
    reader: MembershipReader, retrier: Retrier, places: Sequence[Where], joined: set[str], parallelism: int
) -> tuple[list[Invitation], list[str]]:
    """The invitations in these accounts and regions that no file names (`joined`: the collaborations files
    name), and a message for each place that could not be listed."""
    found: list[Invitation] = []
    problems: list[str] = []
    for where, listing in listings(reader, retrier, places, parallelism).items():
        if isinstance(listing, AwsError):
            problems.append(f"cannot list the collaborations of {where.label}: {listing}")
            continue
        found += [
            Invitation.from_summary(summary, where.region, where.account)
            for collaboration, summary in listing.items()
            if summary.get("memberStatus") == "INVITED" and collaboration not in joined
        ]
    # The caller's own account may be covered twice, by files without accountId and by files naming it: an
    # invitation seen from both is listed once, under the account named.
    named = {(i.collaborationIdentifier, i.region) for i in found if i.accountId is not None}
    found = [i for i in found if i.accountId is not None or (i.collaborationIdentifier, i.region) not in named]
    return found, problems
