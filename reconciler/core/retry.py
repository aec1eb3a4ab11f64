"""The one retry layer: classification, full-jitter backoff, bounded attempts and an overall deadline.

botocore's own retries are off (see edges/aws/client.py), so every retry happens here and is logged with its reason.
Clock, sleep and randomness are injected so tests run in milliseconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from .api import AwsError

T = TypeVar("T")

# AWS's standard retry mode uses full jitter with a 1 s base and a 20 s cap; we allow 5 attempts rather
# than 3 because a reconciler runs unattended and 409s need a fresh read between tries.
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BASE_DELAY = 1.0
DEFAULT_MAX_DELAY = 20.0
DEFAULT_DEADLINE = 300.0


class Retry(Enum):
    THROTTLED = "throttled"
    TRANSIENT = "transient"  # 5xx, timeouts, dropped connections
    CONFLICT = "conflict"  # a concurrent change: retry only after a fresh read
    IAM_DELAY = "iam-propagation"  # a role not yet visible to the service
    NEVER = "permanent"


# A call the rate controller did not send because the service had refused every call in its account and
# region for a whole --retry-deadline: retrying it would only wait out another deadline.
REFUSED_THROUGHOUT = "RefusedThroughout"
THROTTLE_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", REFUSED_THROUGHOUT})
# What the AWS edge answers for a call whose deadline passed before it could be sent: the error before it,
# when there was one, is the reason.
DEADLINE_CODE = "RetryDeadline"


def refused_throughout(operation: str, membership_id: str | None, seconds: float) -> AwsError:
    """What the rate controller answers for a call it did not send (see REFUSED_THROUGHOUT)."""
    return AwsError(
        operation,
        membership_id,
        REFUSED_THROUGHOUT,
        f"not sent: the service has refused every call in this account and region for {seconds:.0f} s "
        "(ThrottlingException), a whole --retry-deadline",
        status=429,
    )


def no_turn(operation: str, membership_id: str | None) -> AwsError:
    """A call the rate controller gave no turn before its deadline: a throttle of our own, classified as the
    service's (its time is up either way)."""
    return AwsError(
        operation,
        membership_id,
        "ThrottlingException",
        "no turn to call before its --retry-deadline: the calls ahead of it in this account and region took "
        "all the time (throttled, or answering slowly)",
        status=429,
    )


def classify(error: AwsError) -> Retry:
    if error.code == REFUSED_THROUGHOUT:
        return Retry.NEVER
    if error.code in THROTTLE_CODES or error.status == 429:
        return Retry.THROTTLED
    if error.code == "ConflictException":
        return Retry.CONFLICT if error.reason in (None, "INVALID_STATE") else Retry.NEVER
    if error.code == "ValidationException" and error.reason == "IAM_SYNCHRONIZATION_DELAY":
        return Retry.IAM_DELAY
    if error.status is None or error.status >= 500:
        return Retry.TRANSIENT
    return Retry.NEVER


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_delay: float = DEFAULT_BASE_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    deadline: float = DEFAULT_DEADLINE

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**attempt)), attempt counting from 0."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))

    def throttle_backoff(self, throttled: int, rng: random.Random, at_random: bool = False) -> float:
        """Full jitter before resending a call throttled `throttled` times in a row: from THROTTLE_FIRST_SHARE
        of the base, doubling, to the base. The rate controller paces what the service's quota allows, so this
        only spreads resends apart; short at first, since a refusal the service makes at random (shedding
        load) costs the wait of one worker, and longer as the refusals go on (a burst) unless the controller
        found them `at_random` (a long run of them is then bad luck, not a reason to wait longer)."""
        scale = THROTTLE_FIRST_SHARE * 2 ** ((1 if at_random else throttled) - 1)
        return rng.uniform(0, min(self.max_delay, self.base_delay * min(1.0, scale)))


# When the call being made must end (time.monotonic()), whatever it is waiting for: a turn from the rate
# controller, the pace, or a slow answer. Set by the Tries that runs it, read by the layers below (ratelimit,
# aws), so --retry-deadline bounds all of a call's time, not only its backoffs.
DEADLINE: ContextVar[float | None] = ContextVar("deadline", default=None)


def time_left(clock: Callable[[], float] = time.monotonic) -> float | None:
    """Seconds left to the running call's deadline (None: no deadline), never below zero."""
    deadline = DEADLINE.get()
    return None if deadline is None else max(0.0, deadline - clock())


# on_retry(error, kind, next_attempt, delay): next_attempt is None for a throttle, which spends no attempt.
RetryLog = Callable[[AwsError, Retry, int | None, float], None]

# A throttled call's first backoff is at most this share of the base delay, and it doubles to the base delay
# (never more: the rate controller paces the resend, so the backoff only has to spread resends apart, not
# guess the service's rate; a longer one only idles the quota).
THROTTLE_FIRST_SHARE = 0.02


@dataclass
class Retrier:
    """Runs calls under a policy. `on_retry` hears of every retry."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    on_retry: RetryLog | None = None

    def start(self) -> Tries:
        return Tries(self, self.clock())

    def call(self, operation: Callable[[], T], retry_on: frozenset[Retry]) -> T:
        tries = self.start()
        while True:
            try:
                with tries.bounded():
                    return operation()
            except AwsError as error:
                tries.raise_cause(error)
                kind = classify(error)
                if kind not in retry_on:
                    raise
                tries.failed(error, kind)


@dataclass
class Tries:
    """One call's budget. Failures spend attempts, except throttling: under a quota a 429 says "not now",
    not "this call is failing", and the rate controller paces what follows, so success under a steady
    quota never depends on how many 429s one call met. Every retry spends time, and the deadline bounds it.
    """

    retrier: Retrier
    started: float
    counted: int = 0
    throttled: int = 0
    last: AwsError | None = None  # the error the last retry followed

    @contextmanager
    def bounded(self) -> Iterator[None]:
        """Calls made inside end by this budget's deadline, waits for a turn and slow answers included."""
        # On the real clock, which the layers below wait on (the retrier's own may be a test's).
        left = self.started + self.retrier.policy.deadline - self.retrier.clock()
        token = DEADLINE.set(time.monotonic() + left)
        try:
            yield
        finally:
            DEADLINE.reset(token)

    def raise_cause(self, error: AwsError) -> None:
        """A call the edge did not send because its deadline had passed ran out of time on the retries of the
        error before it: that error is the one to report."""
        if error.code == DEADLINE_CODE and self.last is not None:
            raise self.last from error

    def failed(self, error: AwsError, kind: Retry) -> None:
        """Sleep before the next attempt, or re-raise `error` when attempts or time are spent."""
        policy = self.retrier.policy
        self.last = error
        if kind is Retry.THROTTLED:
            self.throttled += 1
            attempt, delay = None, policy.throttle_backoff(self.throttled, self.retrier.rng, error.at_random)
        else:
            self.throttled = 0
            self.counted += 1
            if self.counted >= policy.max_attempts:
                raise error
            attempt, delay = self.counted + 1, policy.backoff(self.counted - 1, self.retrier.rng)
        if self.retrier.clock() + delay - self.started > policy.deadline:
            raise error
        if self.retrier.on_retry is not None:
            self.retrier.on_retry(error, kind, attempt, delay)
        self.retrier.sleep(delay)


READ_RETRIES = frozenset({Retry.THROTTLED, Retry.TRANSIENT})
