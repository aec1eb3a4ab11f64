"""A client-side rate limiter per account and region that learns the service's limit from its 429s.

Like botocore's adaptive mode, it stays out of the way until the first throttle; then it sends at a rate
it adjusts by additive increase (while calls succeed) and multiplicative decrease (on a 429), so a large
apply approaches the service's limit instead of hammering it and burning retries.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .api import AwsError, Gateway, Where
from .retry import Retry, classify

T = TypeVar("T")


@dataclass
class AimdLimiter:
    """Token pacing at `rate` calls/s once enabled. Clock and sleep are injected for tests."""

    increase_per_second: float = 5.0  # additive: the rate grows by this much per second of success
    decrease_factor: float = 0.7  # multiplicative: the rate after a throttle, relative to before
    min_rate: float = 0.5
    window: float = 1.0  # seconds of history for the measured send rate
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rate: float | None = None  # None: not throttled yet, no pacing
    throttles: int = 0
    _next_send: float = 0.0
    _last_adjust: float = 0.0
    _last_decrease: float = -1e9
    _sent: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self) -> None:
        with self._lock:
            now = self.clock()
            self._sent.append(now)
            while self._sent and self._sent[0] < now - self.window:
                self._sent.popleft()
            if self.rate is None:
                return
            self._grow(now)
            at = max(now, self._next_send)
            self._next_send = at + 1.0 / self.rate
        if at > now:
            self.sleep(at - now)

    def throttled(self) -> None:
        with self._lock:
            now = self.clock()
            self.throttles += 1
            # One decrease per round trip's worth of time: 429s from calls already in flight report the
            # same overload, and cutting once per each of them would collapse the rate.
            if now - self._last_decrease < self.window / 2:
                return
            measured = len(self._sent) / self.window
            current = self.rate if self.rate is not None else max(measured, self.min_rate)
            self.rate = max(self.min_rate, current * self.decrease_factor)
            self._last_decrease = self._last_adjust = now

    def heard(self, error: AwsError) -> None:
        """A failed call: only throttling says anything about the rate."""
        if classify(error) is Retry.THROTTLED:
            self.throttled()

    def _grow(self, now: float) -> None:
        assert self.rate is not None
        self.rate += self.increase_per_second * max(0.0, now - self._last_adjust)
        self._last_adjust = now


class LimitedGateway:
    """A Gateway that paces every call through one AimdLimiter per account and region (quotas are per both)."""

    def __init__(self, inner: Gateway, make_limiter: Callable[[], AimdLimiter] = AimdLimiter) -> None:
        self._inner = inner
        self._make = make_limiter
        self._limiters: dict[Where, AimdLimiter] = {}
        self._lock = threading.Lock()

    def limiter(self, where: Where) -> AimdLimiter:
        with self._lock:
            if where not in self._limiters:
                self._limiters[where] = self._make()
            return self._limiters[where]

    def _paced(self, where: Where, call: Callable[[], T]) -> T:
        limiter = self.limiter(where)
        limiter.acquire()
        try:
            return call()
        except AwsError as error:
            limiter.heard(error)
            raise

    def get_membership(self, where: Where, membership_id: str) -> Mapping[str, Any]:
        return self._paced(where, lambda: self._inner.get_membership(where, membership_id))

    def list_memberships(self, where: Where, status: str | None = None) -> Iterator[Mapping[str, Any]]:
        # The inner gateway pages lazily, so its calls happen while this generator is consumed: pace before
        # the first page, and let a 429 on any page reach the limiter on its way out.
        limiter = self.limiter(where)
        limiter.acquire()
        try:
            yield from self._inner.list_memberships(where, status)
        except AwsError as error:
            limiter.heard(error)
            raise

    def update_membership(
        self, where: Where, membership_id: str, fields: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], str | None]:
        return self._paced(where, lambda: self._inner.update_membership(where, membership_id, fields))
