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

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..core.api import AwsError, Gateway
from ..core.errors import EndpointUnavailable
from ..core.models import LiveMembership
from ..core.outcome import Outcome, Status
from ..core.plan import MembershipChange
from ..core.planner import remaining, stale_fields
from ..core.retry import Retrier, Retry, classify
from .reader import fetch

# Turning logging on or off takes minutes to show: a membership returned or read right after the write may
# still carry the old value. For these a mismatch right after a successful write is reported, not failed.
SLOW_TO_SHOW = frozenset({"queryLogStatus", "jobLogStatus"})


AuditSink = Callable[[Mapping[str, Any]], None]


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

        def check(change: MembershipChange) -> LiveMembership | str:
            where = f"{change.source}: membership {change.membershipIdentifier}"
            try:
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
        state = _Progress()
        try:
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
        if not body:
            return state.outcome(change, Status.CONVERGED, "live state already matches the plan")
        tries = self.retrier.start()
        while True:
            if state.must_read:
                live = self._read(change)
                refusal = self._refusal(change, live)
                if refusal:
                    return state.outcome(change, *refusal)
                body = remaining(change, live)
                if not body:
                    if state.unconfirmed:
                        # Our write whose answer was lost (a timeout or a 5xx after applying) took effect.
                        state.sent += tuple(n for n in state.unconfirmed if n not in state.sent)
                        confirmed = {f.name: f.after for f in change.fields if f.name in state.unconfirmed}
                        self._audit(change, confirmed, state.attempts, "confirmed", None, None)
                        return state.outcome(change, Status.APPLIED, "confirmed by a read after an unknown outcome")
                    status = Status.APPLIED if state.sent else Status.CONVERGED
                    return state.outcome(change, status, "live state already matches the plan")
                state.must_read = False
            if self.stop.is_set():
                raise StopRequestedError
            attempt = state.attempts + 1
            requests = state.requests

            def sending(body: Mapping[str, Any] = body, attempt: int = attempt) -> None:
                # Logged as the request goes out (after any wait for a turn, and never for a call the breaker
                # refuses): if the process dies mid-call, the log still shows the write may have landed.
                state.requests += 1
                self._audit(change, body, attempt, "sent", None, None)

            try:
                with tries.bounded():
                    returned, request_id = self.gateway.update_membership(
                        change.where, change.membershipIdentifier, body, sending
                    )
            except EndpointUnavailable as down:
                if state.requests > requests:
                    # This request was in flight when the endpoint was found dead: it may have landed.
                    cause = down.__cause__
                    code = cause.code if isinstance(cause, AwsError) else "EndpointUnavailable"
                    self._audit(change, body, attempt, code, None, "outcome unknown: " + down.message)
                    state.unconfirmed += tuple(n for n in body if n not in state.unconfirmed)
                raise
            except AwsError as error:
                state.attempts += 1
                self._audit(change, body, state.attempts, error.code, error.request_id, error.reason)
                tries.raise_cause(error)
                kind = classify(error)
                if kind is Retry.NEVER:
                    raise
                # After a refusal (429, IAM delay) the same body is safe to resend; after a conflict or an
                # unknown outcome it is not: read first.
                state.must_read = kind is Retry.CONFLICT or error.outcome_unknown
                if error.outcome_unknown:
                    state.unconfirmed += tuple(n for n in body if n not in state.unconfirmed)
                tries.failed(error, kind)
                continue
            state.attempts += 1
            state.sent += tuple(name for name in body if name not in state.sent)
            self._audit(change, body, state.attempts, "ok", request_id, None)
            left = remaining(change, LiveMembership.from_api(dict(returned), change.region))
            wrong = [name for name in left if name not in SLOW_TO_SHOW]
            if wrong:
                return state.outcome(
                    change,
                    Status.FAILED,
                    f"not verified: the service returned other values for {', '.join(wrong)} after the write",
                )
            if left:
                return state.outcome(
                    change,
                    Status.APPLIED,
                    f"{', '.join(left)} accepted but not showing yet: logging changes take minutes to propagate",
                )
            return state.outcome(change, Status.APPLIED)

    def _refusal(self, change: MembershipChange, live: LiveMembership) -> tuple[Status, str] | None:
        """Why a fresh read forbids writing the change, if it does."""
        if live.status != "ACTIVE":
            return Status.FAILED, f"status is now {live.status}"
        if self.strict and (stale := stale_fields(change, live)):
            return Status.STALE, f"the plan is stale: {', '.join(stale)} changed since planning; run plan again"
        return None

    def _read(self, change: MembershipChange) -> LiveMembership:
        return fetch(self.gateway, self.retrier, change.where, change.membershipIdentifier)

    def _audit(
        self,
        change: MembershipChange,
        body: Mapping[str, Any],
        attempt: int,
        outcome: str,
        request_id: str | None,
        reason: str | None,
    ) -> None:
        if self.audit is None:
            return
        self.audit(
            {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "membershipIdentifier": change.membershipIdentifier,
                "region": change.region,
                "accountId": change.accountId,
                "source": change.source,
                "attempt": attempt,
                "fields": dict(body),
                "outcome": outcome,
                "reason": reason,
                "requestId": request_id,
            }
        )


@dataclass
class _Progress:
    must_read: bool = False
    attempts: int = 0  # UpdateMembership calls answered, or failed without an answer
    requests: int = 0  # UpdateMembership requests that went out
    sent: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()  # fields of writes whose outcome is unknown

    def outcome(
        self, change: MembershipChange, status: Status, message: str = "", error: AwsError | None = None
    ) -> Outcome:
        return Outcome(change, status, self.sent, self.attempts, message, error)
