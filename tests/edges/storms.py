"""A discrete-event model of one account and region: workers calling through a RateController on a fake clock,
against a service that throttles by a quota, at random, or in a burst. The controller's behaviour over
minutes of simulated time is checked in milliseconds, without threads or sleeping.

The workers are the reader's: each takes the next membership, asks the controller for a turn, and on a 429
waits the retry layer's throttle backoff (RetryPolicy.throttle_backoff) and asks again, until its deadline.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.core.api import AwsError
from reconciler.core.retry import RetryPolicy
from reconciler.edges.aws.ratelimit import RateController
from reconciler.sandbox.faults import TokenBucket

# Whether the service refuses a call that arrives at time t.
Service = Callable[[float], bool]


def quota(rate: float, burst: float | None = None, other: float = 0.0) -> Service:
    """The sandbox's token bucket of `rate` calls/s (a second's worth of burst unless told) on the simulated
    clock; `other` calls/s of it go to another client first, so what is left to us is rate - other."""
    bucket = TokenBucket(rate, burst or rate, burst or rate, stamp=0.0, taken=other)
    return lambda t: not bucket.take(t)


def at_random(share: float, seed: int = 1) -> Service:
    rng = random.Random(seed)
    return lambda _t: rng.random() < share


def burst(seconds: float) -> Service:
    return lambda t: t < seconds


@dataclass
class Result:
    elapsed: float
    calls: int
    throttled: int
    failed: int  # memberships whose every try until the deadline was throttled

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.calls if self.calls else 0.0


@dataclass
class Storm:
    service: Service
    memberships: int
    latency: float
    workers: int = 32
    jitter: float = 0.0  # each answer takes latency * uniform(1 - jitter, 1 + jitter)
    policy: RetryPolicy = field(default_factory=RetryPolicy)  # its throttle backoff, its deadline
    seed: int = 7
    first_floor: float = 1.0
    now: float = 0.0
    controller: RateController = field(init=False)
    _events: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)
    _waiting: deque[Callable[[float], None]] = field(default_factory=deque)
    _pumping: bool = False

    def __post_init__(self) -> None:
        self.controller = RateController(
            max_concurrency=self.workers, clock=lambda: self.now, sleep=self._sleep, first_floor=self.first_floor
        )
        self._rng = random.Random(self.seed)

    def _at(self, t: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (t, next(self._order), action))

    def _sleep(self, seconds: float) -> None:
        """A worker paced by the controller: time passes, answers arrive meanwhile."""
        self._run_until(self.now + seconds)

    def _run_until(self, t: float) -> None:
        while self._events and self._events[0][0] <= t:
            when, _, action = heapq.heappop(self._events)
            self.now = max(self.now, when)
            action()
        self.now = max(self.now, t)

    def _pump(self) -> None:
        """Give turns to waiting workers while the window has room (acquire would not block)."""
        if self._pumping:
            return
        self._pumping = True
        try:
            c = self.controller
            while self._waiting and c.in_flight < min(c.max_concurrency, max(1, int(c.window))):
                self._waiting.popleft()(c.acquire("GetMembership"))
        finally:
            self._pumping = False

    def run(self) -> Result:
        jobs = deque(range(self.memberships))
        stats = {"calls": 0, "throttled": 0, "failed": 0}
        last = [0.0]

        def next_job() -> None:
            if jobs:
                jobs.popleft()
                attempt(self.now + self.policy.deadline, 0)

        def attempt(deadline: float, throttled: int) -> None:
            def sent(at: float) -> None:
                delay = self.latency * self._rng.uniform(1 - self.jitter, 1 + self.jitter)
                self._at(at + delay, lambda: answered(at, deadline, throttled))

            self._waiting.append(sent)
            self._pump()

        def answered(at: float, deadline: float, throttled: int) -> None:
            stats["calls"] += 1
            refused = self.service(at)
            error = AwsError("GetMembership", None, "ThrottlingException", "Rate exceeded", status=429)
            self.controller.release("GetMembership", at, error if refused else None)
            last[0] = self.now
            if not refused:
                self._at(self.now, next_job)
            else:
                stats["throttled"] += 1
                delay = self.policy.throttle_backoff(throttled + 1, self._rng, error.at_random)
                if self.now + delay > deadline:
                    stats["failed"] += 1
                    self._at(self.now, next_job)
                else:
                    self._at(self.now + delay, lambda: attempt(deadline, throttled + 1))
            self._pump()

        for _ in range(min(self.workers, self.memberships)):
            self._at(0.0, next_job)
        while self._events or self._waiting:
            if not self._events:
                self._pump()
                if not self._events:
                    break
            self._run_until(self._events[0][0])
            self._pump()
        return Result(last[0], stats["calls"], stats["throttled"], stats["failed"])
