"""Injected trouble: scripted or seeded error answers, added latency, and a server-side rate limit."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ERROR_NAMES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    409: "ConflictException",
    429: "ThrottlingException",
    500: "InternalServerException",
}


@dataclass(frozen=True)
class Fault:
    """One injected answer. `concurrent_write` is applied to the membership just before answering, as if
    someone else wrote it; `after_apply` processes the request first, so the client cannot know it worked.
    A status below 400 with `after_apply` answers normally, showing the concurrent write too."""

    status: int
    reason: str | None = None
    concurrent_write: Mapping[str, Any] | None = None
    after_apply: bool = False

    @property
    def error_code(self) -> str:
        """The error's name; for a success after a concurrent write, a label for the request log."""
        if self.status < 400:
            return "ConcurrentWrite"
        return ERROR_NAMES.get(self.status, "InternalServerException")


THROTTLE = Fault(429)
# The calls a quota or a throttling burst applies to, besides every *Membership one.
LIMITED = frozenset({"ListMemberships", "ListCollaborations", "ListTagsForResource", "TagResource", "UntagResource"})
CONFLICT = Fault(409, reason="INVALID_STATE")
SERVER_ERROR = Fault(500)


@dataclass
class _Rule:
    operation: str
    sequence: list[Fault | None]
    rate: float
    fault: Fault
    membership_id: str | None

    def matches(self, operation: str, membership_id: str | None) -> bool:
        return self.operation in (operation, "*") and self.membership_id in (None, membership_id)


@dataclass
class TokenBucket:
    """A quota. `taken` calls/s of another client (another job in the account) draw on it first: its calls
    retry until served, so what is left to us is rate - taken."""

    rate: float
    burst: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)
    taken: float = 0.0
    owed: float = 0.0

    def take(self, now: float | None = None) -> bool:
        """Whether a call arriving now (the clock's, unless told) gets a token."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.owed += (now - self.stamp) * self.taken
        self.stamp = now
        served = min(self.owed, self.tokens)
        self.owed -= served
        self.tokens -= served
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Faults:
    """Which answer each request gets: the rate limit first (as a quota), then the rules in order."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._rules: list[_Rule] = []
        # Per operation: the seconds each request waits, and the share it varies by either way (uniformly,
        # drawn apart from the faults so that varying latency leaves a seed's faults the same).
        self._latency: dict[str, tuple[float, float]] = {}
        self._latency_random = random.Random(seed)
        # A quota is per account and region: one bucket for each caller seen, made on its first call.
        self._quota: tuple[float, float, float] | None = None
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        # Every membership call refused for this many seconds from the first that arrives (when it came).
        self._refusing: tuple[float, float | None] | None = None

    def inject(
        self,
        operation: str,
        *,
        sequence: Sequence[Fault | None] = (),
        rate: float = 0.0,
        fault: Fault = THROTTLE,
        membership_id: str | None = None,
    ) -> None:
        with self._lock:
            self._rules.append(_Rule(operation, list(sequence), rate, fault, membership_id))

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._random.seed(seed)
            self._latency_random.seed(seed)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()
            self._latency.clear()
            self._quota = None
            self._buckets.clear()
            self._refusing = None

    def set_latency(self, seconds: float, operations: Iterable[str] = ("*",), jitter: float = 0.0) -> None:
        """Each request waits `seconds` times a uniform draw from 1 - jitter to 1 + jitter."""
        if not 0.0 <= jitter <= 1.0:
            raise ValueError(f"jitter is a share of the latency, from 0 to 1: {jitter}")
        with self._lock:
            for operation in operations:
                self._latency[operation] = (seconds, jitter)

    def latency(self, operation: str) -> float:
        with self._lock:
            seconds, jitter = self._latency.get(operation, self._latency.get("*", (0.0, 0.0)))
            return seconds * self._latency_random.uniform(1 - jitter, 1 + jitter) if jitter else seconds

    def set_rate_limit(self, per_second: float | None, burst: float | None = None, taken: float = 0.0) -> None:
        """A token bucket of `per_second` calls (burst: `burst`, else one second's worth) per account and
        region, over every membership call: reads, listings and writes draw on the same quota. `taken`
        calls/s of it go to another client first (a shared quota)."""
        with self._lock:
            self._quota = None if per_second is None else (per_second, burst or per_second, taken)
            self._buckets.clear()

    def refuse_for(self, seconds: float | None) -> None:
        """Every membership call answered 429 for `seconds` from the first one to arrive, whatever the pace:
        another job's burst, or the service shedding load (None: stop)."""
        with self._lock:
            self._refusing = None if seconds is None else (seconds, None)

    def next(self, operation: str, membership_id: str | None, caller: tuple[str, str] = ("", "")) -> Fault | None:
        with self._lock:
            limited = operation in LIMITED or operation.endswith("Membership")
            if limited and self._refusing is not None:
                seconds, began = self._refusing
                now = time.monotonic()
                if began is None:
                    self._refusing = (seconds, began := now)
                if now - began < seconds:
                    return THROTTLE
            if limited and self._quota is not None:
                if caller not in self._buckets:
                    rate, burst, taken = self._quota
                    self._buckets[caller] = TokenBucket(rate, burst, burst, taken=taken)
                if not self._buckets[caller].take():
                    return THROTTLE
            for rule in self._rules:
                if not rule.matches(operation, membership_id):
                    continue
                if rule.sequence:
                    return rule.sequence.pop(0)
                if rule.rate and self._random.random() < rule.rate:
                    return rule.fault
        return None
