"""Reading live state: one GetMembership per managed membership, in a bounded pool, with read retries.

ListMemberships summaries lack the settings, so planning cannot be done from a listing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .api import AwsError, MembershipReader, Where
from .models import LiveMembership
from .plan import PlanError
from .planner import ResolvedFile
from .retry import READ_RETRIES, Retrier


def fetch(gateway: MembershipReader, retrier: Retrier, where: Where, membership_id: str) -> LiveMembership:
    """One GetMembership under the read retry policy; raises AwsError when it cannot be read."""
    membership = retrier.call(lambda: gateway.get_membership(where, membership_id), READ_RETRIES)
    return LiveMembership.from_api(dict(membership), where.region)


def list_active(gateway: MembershipReader, retrier: Retrier, where: Where) -> list[Mapping[str, Any]]:
    """Every ACTIVE membership summary, paged to the end, under the read retry policy (retried whole)."""
    return retrier.call(lambda: list(gateway.list_memberships(where, "ACTIVE")), READ_RETRIES)


def read_one(gateway: MembershipReader, retrier: Retrier, target: ResolvedFile) -> LiveMembership | PlanError:
    try:
        return fetch(gateway, retrier, target.where, target.membership_id)
    except AwsError as error:
        return read_error(target, error)


def read_error(target: ResolvedFile, error: AwsError) -> PlanError:
    if error.not_found:
        message = f"not found in {target.where} (ResourceNotFoundException"
        message += f", request id {error.request_id})" if error.request_id else ")"
    else:
        message = f"cannot be read in {target.where}: {error}"
    return PlanError(target.membership_id, target.file.path, message, error.code)


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

    pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="read")
    try:
        results = list(pool.map(work, targets))
    finally:
        # On Ctrl-C, drop the reads not started yet: waiting for all of them would hold the command.
        pool.shutdown(wait=True, cancel_futures=True)
    return {target.membership_id: result for target, result in zip(targets, results, strict=True)}
