"""Reading live state: one GetMembership per managed membership, in a bounded pool, with read retries.

ListMemberships summaries lack the settings, so planning cannot be done from a listing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

from ..core.api import AwsError, MembershipReader, Page, Where
from ..core.models import TAGS, LiveMembership
from ..core.plan import PlanError
from ..core.planner import ResolvedFile
from ..core.retry import READ_RETRIES, Retrier

T = TypeVar("T")
R = TypeVar("R")


def fetch(
    gateway: MembershipReader, retrier: Retrier, where: Where, membership_id: str, tags: bool = False
) -> LiveMembership:
    """One GetMembership under the read retry policy, and with `tags` its tags (ListTagsForResource: the
    membership carries none); raises AwsError when it cannot be read."""
    membership = retrier.call(lambda: gateway.get_membership(where, membership_id), READ_RETRIES)
    live = LiveMembership.from_api(dict(membership), where.region)
    if not tags:
        return live
    return live.with_tags(retrier.call(lambda: gateway.list_tags(where, live.arn), READ_RETRIES))


def pages(retrier: Retrier, call: Callable[[str | None], Page]) -> Iterator[Page]:
    """Every page of a listing, `call(next_token)` each under the read retry policy. The service may answer a
    short (even empty) page with a next token: only a missing token ends it."""
    token: str | None = None
    while True:
        page = retrier.call(functools.partial(call, token), READ_RETRIES)
        yield page
        token = page.next_token
        if not token:
            return


def list_active(gateway: MembershipReader, retrier: Retrier, where: Where) -> list[Mapping[str, Any]]:
    """Every ACTIVE membership summary, paged to the end."""
    listing = functools.partial(gateway.list_memberships, where, "ACTIVE")
    return [summary for page in pages(retrier, listing) for summary in page.summaries]


def list_members(gateway: MembershipReader, retrier: Retrier, where: Where, collaboration_id: str) -> list[Any]:
    """Every member of a collaboration (ListMembers), paged to the end."""
    listing = functools.partial(gateway.list_members, where, collaboration_id)
    return [member for page in pages(retrier, listing) for member in page.summaries]


def with_designations(
    gateway: MembershipReader,
    retrier: Retrier,
    targets: Sequence[ResolvedFile],
    live: dict[str, LiveMembership | PlanError],
    parallelism: int,
) -> dict[str, LiveMembership | PlanError]:
    """Each membership whose file manages payment settings, with the payment its collaboration's creator
    designated for it: one ListMembers per collaboration, and none at all when no file manages payment."""
    wanted = [
        (t, read)
        for t in targets
        if "membershipPaymentConfiguration" in t.file.membership.model_fields_set
        and isinstance(read := live[t.membership_id], LiveMembership)
    ]
    listed = members_of(gateway, retrier, {(t.where, m.collaborationId) for t, m in wanted}, parallelism)
    result = dict(live)
    for target, membership in wanted:
        found = designation(listed, target, membership.collaborationId, membership.accountId)
        done = found if isinstance(found, PlanError) else replace(membership, designatedPayment=found)
        result[target.membership_id] = done
    return result


Members = dict[tuple[Where, str], list[Any] | AwsError]


def members_of(gateway: MembershipReader, retrier: Retrier, keys: set[tuple[Where, str]], parallelism: int) -> Members:
    """The members of each (account and region, collaboration), or why they could not be listed."""
    ordered = sorted(keys, key=lambda key: (key[0].label, key[1]))  # an account of None does not compare
    return each(ordered, lambda key: list_members(gateway, retrier, *key), parallelism)


def designation(
    listed: Members, target: ResolvedFile, collaboration: str, account: str | None
) -> dict[str, Any] | PlanError:
    """What the collaboration's creator designated `account` to pay for (its ListMembers), or why unknown."""
    found = listed[(target.where, collaboration)]
    if isinstance(found, AwsError):
        message = f"cannot read who pays in collaboration {collaboration}: {found}"
        return PlanError(target.membership_id, target.file.path, message, found.code)
    mine = next((m for m in found if m.get("accountId") == account), None)
    return dict((mine or {}).get("paymentConfiguration") or {})


K = TypeVar("K")


def each(keys: Sequence[K], work: Callable[[K], R], parallelism: int) -> dict[K, R | AwsError]:
    """`work` for each key in a bounded pool: its result, or the AwsError that says why there is none."""

    def one(key: K) -> R | AwsError:
        try:
            return work(key)
        except AwsError as error:
            return error

    return dict(zip(keys, in_parallel(keys, one, parallelism), strict=True))


def read_one(gateway: MembershipReader, retrier: Retrier, target: ResolvedFile) -> LiveMembership | PlanError:
    try:
        return fetch(gateway, retrier, target.where, target.membership_id, TAGS in target.file.membership.managed())
    except AwsError as error:
        return read_error(target, error)


def read_error(target: ResolvedFile, error: AwsError) -> PlanError:
    if error.not_found:
        message = f"not found in {target.where} (ResourceNotFoundException"
        message += f", request id {error.request_id})" if error.request_id else ")"
    else:
        message = f"cannot be read in {target.where}: {error}"
    return PlanError(target.membership_id, target.file.path, message, error.code)


def in_parallel(items: Sequence[T], work: Callable[[T], R], parallelism: int) -> list[R]:
    """`work` over `items` in a bounded pool, results in order. The rate controller decides how many calls
    are actually in flight; the pool only has to be at least that large."""
    pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="read")
    try:
        return list(pool.map(work, items))
    finally:
        # On Ctrl-C, drop the work not started yet: waiting for all of it would hold the command.
        pool.shutdown(wait=True, cancel_futures=True)


def read_live(
    gateway: MembershipReader,
    targets: Sequence[ResolvedFile],
    retrier: Retrier,
    parallelism: int,
    on_done: Callable[[], None] | None = None,
) -> dict[str, LiveMembership | PlanError]:
    def work(target: ResolvedFile) -> LiveMembership | PlanError:
        result = read_one(gateway, retrier, target)
        if on_done is not None:
            on_done()
        return result

    results = in_parallel(targets, work, parallelism)
    return {target.membership_id: result for target, result in zip(targets, results, strict=True)}
