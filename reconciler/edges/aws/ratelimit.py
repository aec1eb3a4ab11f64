"""One rate controller per account and region, shared by every call there (reads, pages and writes alike,
as a service quota counts them), on from the first call.

It controls two things:

* **How many calls are in flight** (a window, like TCP's): it starts at one and grows by one per success
  (doubling each round trip) while answers come back about as fast as the fastest seen; when they slow
  down (the endpoint or this machine is saturated) or a 429 comes, it stops growing and backs off. A call
  waits for a place in the window before it is sent.
* **How fast calls start**, once the service has throttled: from a first estimate (the calls answered before
  the first 429 spread over that time plus one second, i.e. assuming the bucket's burst is about a second of
  its rate), the pace creeps up per answered call and is cut on each later 429 (deeply when 429s come close
  together: the pace is well over the limit). Calls take their places and start times one at a time, in
  the order they asked, so a cut applies to the very next call rather than to start times booked ahead at
  the old pace, and no call waits behind calls that asked after it.

A 429 answering a call sent before the latest adjustment reports an overload already acted on: it is
counted, not acted on again. Nothing here sleeps or reads the clock except through the injected functions.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ...core.api import AwsError, Gateway, OnSend, Page, Where
from ...core.retry import Retry, classify, time_left

T = TypeVar("T")

# The window's cap when the caller gives none; --parallelism sets it.
DEFAULT_MAX_CONCURRENCY = 32
# After a throttle, the rate is cut to this share of what it was: a small cut when the last throttle is
# long past (the rate had crept just over the limit), a deep one when throttles come close together (the
# estimate is well over it).
DECREASE = 0.9
# The first estimate is paced at this share of itself: the bucket's burst is a guess.
FIRST_SHARE = 0.95
CUT = 0.7
QUIET_CALLS = 50
# Fewer answered calls than this between two throttles: the estimate is well over the limit.
CLOSE_CALLS = 10
# Between throttles the rate grows per answered call by this share times (calls since the throttle /
# QUIET_CALLS): nothing right after a throttle, when the pace is the best estimate there is, and faster the
# longer no throttle comes, in case the estimate is far too low. Per call, so probing costs the same share
# of calls at any rate: a throttle every hundred or more calls, the rate averaging about 95% of the limit.
CREEP_PER_CALL = 0.001


@dataclass
class RateController:
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # An answer slower than this multiple of the fastest, plus the allowance, says the pipe is full.
    slow_factor: float = 2.0
    slow_allowance: float = 0.001
    min_rate: float = 0.5

    window: float = 1.0
    in_flight: int = 0
    # The fastest answer per operation: a write may take longer than a read without anything being full.
    min_rtt: dict[str, float] = field(default_factory=dict)
    slow_start: bool = True
    rate: float | None = None  # calls/s; None until the first 429
    throttles: int = 0
    answered: int = 0  # successful calls, ever
    quiet: int = 0  # successful calls since the last throttle acted on
    _started: float | None = None
    _next_send: float = 0.0
    _last_change: float = -math.inf  # when the window or rate last reacted to a throttle
    # The first estimate: calls let through before the first throttle (counting those answered after it),
    # over the time until it plus one second.
    _first: tuple[int, float] | None = None
    _condition: threading.Condition = field(default_factory=threading.Condition)
    # A queue by ticket: the caller holding `_serving` is the next to take a place and a start time.
    _tickets: int = 0
    _serving: int = 0
    _abandoned: set[int] = field(default_factory=set)

    def acquire(self, operation: str = "call", membership_id: str | None = None) -> float:
        """Wait for a place in the window and, when pacing, for the next start time; returns the send time.

        Callers are served strictly in the order they asked: under a steady quota every call waits about
        (calls ahead of it) / rate, never indefinitely while later callers win the race for freed places.
        A call whose deadline (retry.DEADLINE) comes first gives up its place in the queue with a 429 of
        its own: the service's throttling left it no turn in time."""
        with self._condition:
            ticket = self._tickets
            self._tickets += 1
            try:
                while ticket != self._serving or self.in_flight >= min(self.max_concurrency, max(1, int(self.window))):
                    left = time_left()
                    if left == 0:
                        raise no_turn(operation, membership_id)
                    self._condition.wait(left)
            except BaseException:
                # Interrupted while queued (Ctrl-C in the main thread): give up the ticket, or every caller
                # behind it would wait forever.
                self._abandoned.add(ticket)
                self._next_ticket()
                raise
            self.in_flight += 1
        try:
            return self._start_time(operation, membership_id)
        except BaseException:
            with self._condition:
                self.in_flight -= 1
            raise
        finally:
            # The next caller may take its place (and, when pacing, its start time) only now: one start
            # time is booked at a time, so a throttle's cut reaches the very next call.
            with self._condition:
                self._serving += 1
                self._next_ticket()

    def _next_ticket(self) -> None:
        """Skip the tickets given up while queued, and wake the queue (the condition is held)."""
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._condition.notify_all()

    def _start_time(self, operation: str, membership_id: str | None) -> float:
        while True:
            with self._condition:
                now = self.clock()
                if self.rate is None:
                    return now
                at = max(now, self._next_send)
                self._next_send = at + 1.0 / self.rate
            if at <= now:
                return now
            left = time_left()
            if left is not None and at - now > left:
                with self._condition:
                    # The booked start time is given back: the next caller takes it.
                    self._next_send -= 1.0 / self.rate if self.rate else 0.0
                raise no_turn(operation, membership_id)
            self.sleep(at - now)
            with self._condition:
                # A start time booked before a throttle was booked at the old rate: book again.
                if self._last_change <= now:
                    return at

    def release(self, operation: str, sent: float, error: AwsError | None) -> None:
        """After `operation` sent at `sent`: None for a success, else the error it raised."""
        with self._condition:
            self.in_flight -= 1
            now = self.clock()
            if error is None:
                self._answered(operation, sent, now)
            elif classify(error) is Retry.THROTTLED:
                self.throttles += 1
                if sent >= self._last_change:
                    self._throttled(now)
            self._condition.notify_all()

    def abandon(self) -> None:
        """A call that ended without an answer from this controller's point of view (interrupted): no lesson."""
        with self._condition:
            self.in_flight -= 1
            self._condition.notify_all()

    def _answered(self, operation: str, sent: float, now: float) -> None:
        if self._started is None:
            # The bucket is counted from the first call's arrival, not its sending: a first call also
            # pays for the connection, which says nothing about the limit.
            self._started = now
        self.answered += 1
        self.quiet += 1
        rtt = now - sent
        fastest = self.min_rtt[operation] = min(self.min_rtt.get(operation, math.inf), rtt)
        if rtt > fastest * self.slow_factor + self.slow_allowance:
            # Queueing somewhere: more calls in flight would only wait longer. Shrink gently.
            self.slow_start = False
            self.window = max(1.0, self.window - 1.0 / self.window)
        elif self.slow_start:
            self.window = min(float(self.max_concurrency), self.window + 1.0)
        else:
            self.window = min(float(self.max_concurrency), self.window + 1.0 / self.window)
        if self.rate is None:
            return
        if self._first is not None and sent < self._last_change:
            # In flight at the first throttle and let through: part of what the first estimate counts.
            count, span = self._first
            self._first = (count + 1, span)
            self.rate = max(self.rate, (count + 1) / span * FIRST_SHARE)
        else:
            # Additive increase, per answered call so that probing costs the same share of calls at any
            # rate; faster the longer no throttle came, in case the estimate is far too low.
            self.rate *= 1.0 + CREEP_PER_CALL * (self.quiet / QUIET_CALLS)

    def _throttled(self, now: float) -> None:
        self.slow_start = False
        self.window = max(1.0, self.window / 2)
        if self.rate is None:
            began = self._started if self._started is not None else now
            self._first = (self.answered, now - began + 1.0)
            # Throttled before anything was answered says nothing of the limit: start at one call a second.
            self.rate = max(1.0, self.answered / self._first[1]) * FIRST_SHARE
        else:
            # The first estimate counts the bucket's burst, so it tends to be a little over the limit: the
            # throttle that follows it cuts a little. Throttles close together after that mean the pace is
            # well over the limit: a deep cut.
            close = self.quiet < CLOSE_CALLS and self._first is None
            self._first = None
            self.rate = max(self.min_rate, self.rate * (CUT if close else DECREASE))
        self.quiet = 0
        self._last_change = now
        # The bucket is empty now: the next call waits a full interval.
        self._next_send = max(self._next_send, now + 1.0 / self.rate)


def no_turn(operation: str, membership_id: str | None) -> AwsError:
    """A call that got no turn before its deadline: a throttle of our own, classified as the service's (its
    time is up either way)."""
    return AwsError(
        operation,
        membership_id,
        "ThrottlingException",
        "no turn to call before its --retry-deadline: the calls ahead of it in this account and region took "
        "all the time (throttled, or answering slowly)",
        status=429,
    )


class LimitedGateway:
    """A Gateway whose every call goes through the RateController of its account and region."""

    def __init__(self, inner: Gateway, make_controller: Callable[[], RateController] = RateController) -> None:
        self._inner = inner
        self._make = make_controller
        self._controllers: dict[Where, RateController] = {}
        self._lock = threading.Lock()

    def controller(self, where: Where) -> RateController:
        with self._lock:
            if where not in self._controllers:
                self._controllers[where] = self._make()
            return self._controllers[where]

    def _paced(self, where: Where, operation: str, call: Callable[[], T], membership_id: str | None = None) -> T:
        controller = self.controller(where)
        sent = controller.acquire(operation, membership_id)
        try:
            result = call()
        except AwsError as error:
            controller.release(operation, sent, error)
            raise
        except BaseException:
            controller.abandon()
            raise
        controller.release(operation, sent, None)
        return result

    def get_membership(self, where: Where, membership_id: str) -> Mapping[str, Any]:
        return self._paced(
            where, "GetMembership", lambda: self._inner.get_membership(where, membership_id), membership_id
        )

    def list_memberships(self, where: Where, status: str | None, next_token: str | None) -> Page:
        return self._paced(where, "ListMemberships", lambda: self._inner.list_memberships(where, status, next_token))

    def list_members(self, where: Where, collaboration_id: str, next_token: str | None) -> Page:
        return self._paced(where, "ListMembers", lambda: self._inner.list_members(where, collaboration_id, next_token))

    def update_membership(
        self, where: Where, membership_id: str, fields: Mapping[str, Any], on_send: OnSend = None
    ) -> tuple[Mapping[str, Any], str | None]:
        return self._paced(
            where,
            "UpdateMembership",
            lambda: self._inner.update_membership(where, membership_id, fields, on_send),
            membership_id,
        )
