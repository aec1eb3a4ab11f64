"""Applying a plan: per membership, send only the planned fields that still differ, and verify.

Retries follow the one policy in retry.py, with the rules that make a write safe to repeat:
- 429 / IAM propagation delay: the write was refused, so the same body may be sent again after backoff.
- 409 (INVALID_STATE or no reason): someone changed the membership; read it again, re-diff, and send only
  what still differs (nothing if it already converged). A field outside the plan is never sent, so a
  concurrent write to an unmanaged field survives.
- 5xx, timeouts, dropped connections: the outcome is unknown; read again before any resend.
- Anything else: fail at once.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from ..core.api import AwsError, Gateway, OnSend
from ..core.errors import EndpointUnavailable
from ..core.joining import create_request
from ..core.models import TAGS, LiveMembership
from ..core.outcome import Outcome, Status
from ..core.plan import MembershipChange, describe
from ..core.planner import remaining, stale_fields
from ..core.retry import Retrier, Retry, Tries, classify
from .reader import fetch

# Turning logging on or off takes minutes to show: a membership returned or read right after the write may
# still carry the old value. For these a mismatch right after a successful write is reported, not failed.
SLOW_TO_SHOW = frozenset({"queryLogStatus", "jobLogStatus"})


AuditSink = Callable[[Mapping[str, Any]], None]
T = TypeVar("T")


class StopRequestedError(Exception):
    """Ctrl-C / SIGTERM arrived: no new write starts."""


@dataclass
class Applier:
    gateway: Gateway
    retrier: Retrier
    audit: AuditSink | None = None
    # Saved plans are strict: a managed field changed by someone since planning refuses the membership.
    strict: bool = False
    stop: threading.Event = field(default_factory=threading.Event)

    def preflight(
        self, changes: Sequence[MembershipChange], parallelism: int
    ) -> tuple[list[str], dict[str, LiveMembership]]:
        """For a saved plan: read every membership before any write. Any that is stale or no longer
        writable refuses the whole plan, as Terraform refuses a saved plan whose state moved: a reviewer
        approved the plan as a whole, not whichever parts of it still hold."""

        def check(change: MembershipChange) -> LiveMembership | str | None:
            where = f"{change.source}: {describe(change)}"
            try:
                if change.join is not None:
                    refusal = _join_refusal(change, self._collaboration(change))
                    return f"{where}: {refusal[1]}" if refusal else None
                live = self._read(change)
            except AwsError as error:
                return f"{where}: cannot be read: {error}"
            refusal = self._refusal(change, live)
            return f"{where}: {refusal[1]}" if refusal else live

        with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="preflight") as pool:
            results = list(pool.map(check, changes))
        problems = [r for r in results if isinstance(r, str)]
        live = {r.membershipIdentifier: r for r in results if isinstance(r, LiveMembership)}
        return problems, live

    def apply(
        self,
        changes: Sequence[MembershipChange],
        parallelism: int,
        live: Mapping[str, LiveMembership] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> list[Outcome]:
        """`live`: fresh reads (from preflight); without them the plan's own read is the starting point."""
        known = live or {}

        def one(change: MembershipChange) -> Outcome:
            outcome = self.apply_one(change, known.get(change.membershipIdentifier))
            if on_done is not None:
                on_done()
            return outcome

        with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="apply") as pool:
            return list(pool.map(one, changes))

    def apply_one(self, change: MembershipChange, live: LiveMembership | None = None) -> Outcome:
        if self.stop.is_set():
            return Outcome(change, Status.NOT_STARTED, message="interrupted before it started")
        state = _Progress(arn=live.arn if live else change.arn)
        state.tags = (live.settings if live else change.liveSettings).get(TAGS)
        # A saved plan's tags are sent to the ARN a read finds, never to one the file names (it names none).
        state.must_read = TAGS in change.body() and not state.arn and change.join is None
        try:
            if change.join is not None:
                return self._join(change, state)
            return self._converge(change, state, change.body() if live is None else remaining(change, live))
        except StopRequestedError:
            status = Status.NOT_STARTED if state.requests == 0 else Status.FAILED
            return state.outcome(change, status, "interrupted before the change was confirmed")
        except AwsError as error:
            return state.outcome(change, Status.FAILED, error=error)
        except EndpointUnavailable as down:
            if state.requests == 0:
                return state.outcome(change, Status.NOT_STARTED, "not started: the endpoint stopped answering")
            return state.outcome(change, Status.FAILED, f"outcome unknown: {down.message}")

    def _converge(self, change: MembershipChange, state: _Progress, body: dict[str, Any]) -> Outcome:
        """One request at a time until nothing differs: UpdateMembership with every settable field that
        differs, then TagResource with the tags to add or change, then UntagResource with those to remove."""
        if not body:
            return state.outcome(change, Status.CONVERGED, "live state already matches the plan")
        tries = self.retrier.start()
        slow: list[str] = []
        while True:
            if state.must_read:
                live = self._read(change)
                refusal = self._refusal(change, live)
                if refusal:
                    return state.outcome(change, *refusal)
                state.arn, state.tags = live.arn, live.settings.get(TAGS)
                body = remaining(change, live)
                if not body:
                    if state.unconfirmed:
                        # Our write whose answer was lost (a timeout or a 5xx after applying) took effect.
                        state.sent += tuple(n for n in state.unconfirmed if n not in state.sent)
                        confirmed = {f.name: f.after for f in change.fields if f.name in state.unconfirmed}
                        self._audit(change, "read", confirmed, state.attempts, "confirmed", None, None)
                        return state.outcome(change, Status.APPLIED, "confirmed by a read after an unknown outcome")
                    status = Status.APPLIED if state.sent else Status.CONVERGED
                    return state.outcome(change, status, "live state already matches the plan")
                state.must_read = False
            if self.stop.is_set():
                raise StopRequestedError
            operation, payload, names = _next_request(body, state.tags)
            send = functools.partial(self._send, change, state.arn, operation, payload)
            result = self._attempt(change, state, tries, operation, payload, names, send)
            if result is None:
                continue
            returned, request_id = result
            self._audit(change, operation, payload, state.attempts, "ok", request_id, None)
            if returned is None:
                state.tags = _tagged(state.tags or {}, operation, payload)
                body = {name: value for name, value in body.items() if name != TAGS}
                if state.tags != change.body()[TAGS]:
                    body[TAGS] = change.body()[TAGS]
                elif TAGS not in state.sent:
                    state.sent += (TAGS,)
            else:
                state.sent += tuple(name for name in names if name not in state.sent)
                left = remaining(change, LiveMembership.from_api(dict(returned), change.region))
                wrong = [name for name in left if name in names and name not in SLOW_TO_SHOW]
                if wrong:
                    return state.outcome(
                        change,
                        Status.FAILED,
                        f"not verified: the service returned other values for {', '.join(wrong)} after the write",
                    )
                slow = [name for name in left if name in names]
                body = {name: value for name, value in body.items() if name not in names}
            if body:
                continue
            if slow:
                return state.outcome(
                    change,
                    Status.APPLIED,
                    f"{', '.join(slow)} accepted but not showing yet: logging changes take minutes to propagate",
                )
            return state.outcome(change, Status.APPLIED)

    def _join(self, change: MembershipChange, state: _Progress) -> Outcome:
        """CreateMembership with every planned field, once: a refusal (429) is resent as it was; after a
        conflict or an unknown outcome, ListCollaborations says whether the account joined, and by whom."""
        request = create_request(change)
        names = tuple(f.name for f in change.fields)
        tries = self.retrier.start()
        while True:
            if state.must_read:
                summary = self._collaboration(change)
                joined = str((summary or {}).get("membershipId") or "")
                if joined and state.unconfirmed:
                    state.sent = names
                    self._audit(change, "read", request, state.attempts, "confirmed", None, None, joined)
                    message = f"joined: membership {joined} (confirmed by a read after an unknown outcome)"
                    return state.outcome(change, Status.APPLIED, message)
                refusal = _join_refusal(change, summary)
                if refusal:
                    return state.outcome(change, *refusal)
                state.must_read = False
            if self.stop.is_set():
                raise StopRequestedError
            send = functools.partial(self.gateway.create_membership, change.where, request)
            result = self._attempt(change, state, tries, "CreateMembership", request, names, send)
            if result is None:
                continue
            created, request_id = result
            joined = str(created.get("id", ""))
            state.sent = names
            self._audit(change, "CreateMembership", request, state.attempts, "ok", request_id, None, joined)
            return state.outcome(change, Status.APPLIED, f"joined: membership {joined}")

    def _attempt(
        self,
        change: MembershipChange,
        state: _Progress,
        tries: Tries,
        operation: str,
        payload: Mapping[str, Any],
        names: tuple[str, ...],
        call: Callable[[OnSend], T],
    ) -> T | None:
        """One request, by `call` (given the hook that logs it as it goes out); None when it failed in a way
        that is retried, with `state.must_read` set when a read must come first. Raises when it is not."""
        attempt = state.attempts + 1
        requests = state.requests

        def sending() -> None:
            # Logged as the request goes out (after any wait for a turn, and never for a call the breaker
            # refuses): if the process dies mid-call, the log still shows the write may have landed.
            state.requests += 1
            self._audit(change, operation, payload, attempt, "sent", None, None)

        try:
            with tries.bounded():
                result = call(sending)
        except EndpointUnavailable as down:
            if state.requests > requests:
                # This request was in flight when the endpoint was found dead: it may have landed.
                cause = down.__cause__
                code = cause.code if isinstance(cause, AwsError) else "EndpointUnavailable"
                self._audit(change, operation, payload, attempt, code, None, "outcome unknown: " + down.message)
                state.unconfirmed += tuple(n for n in names if n not in state.unconfirmed)
            raise
        except AwsError as error:
            state.attempts += 1
            self._audit(change, operation, payload, state.attempts, error.code, error.request_id, error.reason)
            tries.raise_cause(error)
            kind = classify(error)
            if kind is Retry.NEVER:
                raise
            # After a refusal (429, IAM delay) the same body is safe to resend; after a conflict or an
            # unknown outcome it is not: read first.
            state.must_read = kind is Retry.CONFLICT or error.outcome_unknown
            if error.outcome_unknown:
                state.unconfirmed += tuple(n for n in names if n not in state.unconfirmed)
            tries.failed(error, kind)
            return None
        state.attempts += 1
        return result

    def _collaboration(self, change: MembershipChange) -> Mapping[str, Any] | None:
        """The join's collaboration as ListCollaborations shows it now (None: not listed)."""
        from .collaborations import list_collaborations

        assert change.join is not None
        listing = list_collaborations(self.gateway, self.retrier, change.where)
        return listing.get(change.join.collaborationIdentifier)

    def _send(
        self, change: MembershipChange, arn: str, operation: str, payload: Mapping[str, Any], sending: OnSend
    ) -> tuple[Mapping[str, Any] | None, str | None]:
        """The membership UpdateMembership returned (None for a tag call, which returns nothing), and the
        request id."""
        if operation == "TagResource":
            return None, self.gateway.tag_resource(change.where, arn, payload["tags"], sending)
        if operation == "UntagResource":
            return None, self.gateway.untag_resource(change.where, arn, payload["tagKeys"], sending)
        return self.gateway.update_membership(change.where, change.membershipIdentifier, payload, sending)

    def _refusal(self, change: MembershipChange, live: LiveMembership) -> tuple[Status, str] | None:
        """Why a fresh read forbids writing the change, if it does."""
        if live.status != "ACTIVE":
            return Status.FAILED, f"status is now {live.status}"
        if self.strict and (stale := stale_fields(change, live)):
            return Status.STALE, f"the plan is stale: {', '.join(stale)} changed since planning; run plan again"
        return None

    def _read(self, change: MembershipChange) -> LiveMembership:
        return fetch(self.gateway, self.retrier, change.where, change.membershipIdentifier, TAGS in change.liveSettings)

    def _audit(
        self,
        change: MembershipChange,
        operation: str,
        body: Mapping[str, Any],
        attempt: int,
        outcome: str,
        request_id: str | None,
        reason: str | None,
        joined: str | None = None,
    ) -> None:
        if self.audit is None:
            return
        # A join's records name its collaboration (there is no membership yet) and, once known, the membership.
        join = change.join
        extra = {"collaborationIdentifier": join.collaborationIdentifier} if join else {}
        extra |= {"createdMembershipIdentifier": joined} if joined else {}
        self.audit(
            {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "membershipIdentifier": change.membershipIdentifier,
                "region": change.region,
                "accountId": change.accountId,
                "source": change.source,
                "attempt": attempt,
                "operation": operation,
                "fields": dict(body),
                "outcome": outcome,
                "reason": reason,
                "requestId": request_id,
                **extra,
            }
        )


def _join_refusal(change: MembershipChange, summary: Mapping[str, Any] | None) -> tuple[Status, str] | None:
    """Why the account can no longer join as planned, if it cannot: someone joined, or the invitation went."""
    assert change.join is not None
    title = f"collaboration {change.join.collaborationIdentifier} ({change.join.collaborationName})"
    if summary is None:
        return Status.FAILED, f"the account is no longer invited to {title}: ListCollaborations does not list it"
    if summary.get("membershipId"):
        joined = summary["membershipId"]
        return Status.STALE, f"the account joined {title} meanwhile (membership {joined}); run plan again"
    if summary.get("memberStatus") != "INVITED":
        return Status.FAILED, f"the account's status in {title} is now {summary.get('memberStatus')}"
    return None


def _next_request(
    body: Mapping[str, Any], tags: Mapping[str, str] | None
) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    """The next request toward `body`: the operation, its payload (what the audit log records) and the
    fields it writes. `tags`: the membership's tags as last known."""
    settings = {name: value for name, value in body.items() if name != TAGS}
    if settings:
        return "UpdateMembership", settings, tuple(settings)
    now, wanted = dict(tags or {}), body[TAGS]
    added = {key: value for key, value in wanted.items() if now.get(key) != value}
    if added:
        return "TagResource", {"tags": added}, (TAGS,)
    return "UntagResource", {"tagKeys": sorted(key for key in now if key not in wanted)}, (TAGS,)


def _tagged(tags: Mapping[str, str], operation: str, payload: Mapping[str, Any]) -> dict[str, str]:
    """The tags after a successful TagResource or UntagResource."""
    if operation == "TagResource":
        return {**tags, **payload["tags"]}
    return {key: value for key, value in tags.items() if key not in payload["tagKeys"]}


@dataclass
class _Progress:
    arn: str = ""
    tags: Mapping[str, str] | None = None  # the membership's tags as last known (read, planned or written)
    must_read: bool = False
    attempts: int = 0  # write calls answered, or failed without an answer
    requests: int = 0  # write requests that went out
    sent: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()  # fields of writes whose outcome is unknown

    def outcome(
        self, change: MembershipChange, status: Status, message: str = "", error: AwsError | None = None
    ) -> Outcome:
        return Outcome(change, status, self.sent, self.attempts, message, error)
