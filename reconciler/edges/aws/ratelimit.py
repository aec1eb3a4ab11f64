"""One rate controller per account and region, shared by every call there (reads, pages and writes alike,
as a service quota counts them), on from the first call. It controls two things:

* **How many calls are in flight** (a window, like TCP's): it starts at one and grows by one per success
  (doubling each round trip) while answers come about as fast as ever (see RTT_ANSWERS); when they slow
  down (the endpoint or this machine is saturated) or a throttle is acted on, it stops growing and backs
  off. A call waits for a place in the window before it is sent.
* **How fast calls start**, once the service has throttled: from a first estimate (the calls answered
  before pacing began spread over that time plus one second, i.e. assuming the bucket's burst is about a
  second of its rate), the pace creeps up per answered call and is cut on each later 429 (deeply when 429s
  come close together: the pace is well over the limit). Calls take their places and start times one at a
  time, in the order they asked, so a cut applies to the very next call rather than to start times booked
  ahead at the old pace, and no call waits behind calls that asked after it.

Not every 429 is about our pace (TCP's lesson: loss that does not fall when you slow down is not
congestion). Refusals before any call was answered (the service refuses everything for a while) teach
nothing, nor do scattered ones early in a run (see LEARN_ANSWERS); and a change of pace made on many
refusals is tested: if a change of pace does not change how often calls are refused, the calls go unpaced
again, that share of refusals is tolerated, and a refused call is resent without a growing backoff (see
TESTED_SHARE). A 429 answering a call sent before the latest adjustment reports an overload already acted
on: it is counted, not acted on again. Nothing here sleeps or reads the clock except through the injected
functions.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ...core.api import AwsError
from ...core.retry import Retry, classify, no_turn, refused_throughout, time_left

# The window's cap when the caller gives none; --parallelism sets it.
DEFAULT_MAX_CONCURRENCY = 32
# How fast answers come: the median of the last RTT_ANSWERS (per operation), against the fastest median,
# which forgets RTT_FORGET per answer. Where latency varies, one answer three times as slow as the fastest
# is common, and the fastest ever drifts lower the longer a run: judged so, the window fell to one or two
# calls (1,000 memberships took 40 s, not 2 s, in the model at a lognormal latency of sigma 0.3).
RTT_ANSWERS = 9
RTT_FORGET = 0.01
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
# A throttle teaches something about our pace only if slowing down makes refusals rarer. A quota refuses
# nearly every call once its burst is spent and we send above it, and none once we send below it; a service
# that sheds load at random, or refuses everything for a while, refuses the same share at any pace, and
# pacing on that only drives the pace toward its floor. So a throttle before any call was answered teaches
# nothing (the service refuses everything: a burst, an outage; the calls retry, and the first answers say
# more); before LEARN_ANSWERS answers, only IN_A_ROW refusals in a row teach (a quota's burst is spent:
# every call is refused; refusals at random come three in a row one time in 37 at 30%), so the first
# estimate is rarely made from a handful of answers; and a pace set on many refusals is tested (below).
RECENT_ANSWERS = 20
LEARN_ANSWERS = 16
IN_A_ROW = 3
# Pacing that starts, or is cut, while at least TESTED_SHARE of the recent answers were refusals is then put to the test
# on the answers to calls sent after it. It passes (the pace was ours to fix) after TEST_ANSWERS answers without a
# refusal (random refusals of 30% do that one time in 70), and ends undecided, as passed, after TEST_LONGEST.
# TEST_REFUSED refusals, one in STILL_ONE_IN answers or more, in at least STAGE_ANSWERS answers (EARLY_STAGE_ANSWERS
# when the pace was set from fewer than LEARN_ANSWERS: it is slow, and each answer costs time) say the pace is still
# refused. Then: refused less than FELL times as often as before, a quota under this pace, which is cut to the share let
# through (by DECREASE at least) and tested in turn against the same share (refusals at random that came less often by
# chance are found at the next pace, not cut deeply at the next refusal); about as often (within SAME_MARGIN), not ours;
# otherwise (clearly less, or more often), a quota still well under this pace (the estimate counted a long burst) or
# refusals at random that came in a run, which a probe at PROBE_PACE times the pace, PROBE_ANSWERS long, tells apart by
# the share let through: a quota under both paces lets through the same calls per second, so at most QUOTA_RATIO of the
# share (a third, exactly: three times, not twice, so that the two lie further apart and fewer probes misjudge);
# refusals at random, the same share. A quota is then paced at the calls let through per second over both paces'
# answers, taken OVER high: an estimate from a few answers is as likely under the quota as over it, and a pace over it
# is cut at the next throttle, where one under only creeps back. Refusals not ours: the calls go unpaced again (the
# window still bounds the calls in flight), tolerating that share, at most TOLERABLE: refusing more whatever our pace is
# a quota's or an outage's, and is paced. Throttles cut nothing more while a test runs.
TESTED_SHARE = 0.1
TEST_ANSWERS = 12
TEST_LONGEST = 24
TEST_REFUSED = 2
STILL_ONE_IN = 10
STAGE_ANSWERS = 6
EARLY_STAGE_ANSWERS = 3
SAME_MARGIN = 0.15
PROBE_ANSWERS = 12
PROBE_PACE = 3.0
OVER = 1.25
QUOTA_RATIO = 0.75
TOLERABLE = 0.8
FELL = 0.5
# Refusals within the tolerated share plus this margin (at most half the way to every call) teach nothing:
# their moving average (weight TOLERANCE_WEIGHT per answer: about 0.06 either way at 30%) is compared, not
# the last few answers', nor a run in a row unless that share makes it UNLIKELY (9 at a third, where the
# average takes 25). Above either (a quota came on top): paced again. The tolerance ends once that average
# falls to TOLERANCE_END of the share tolerated: the burst is over, the shedding has stopped.
TOLERANCE_MARGIN = 0.3
TOLERANCE_WEIGHT = 0.03
TOLERANCE_END = 0.25
UNLIKELY = 1e-4


@dataclass
class RateController:
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # Answers slower than this multiple of the fastest (see RTT_ANSWERS), plus the allowance: the pipe is full.
    slow_factor: float = 2.0
    slow_allowance: float = 0.001
    min_rate: float = 0.5
    # The first estimate's least (calls/s); what it trades: benchmarks/model_tradeoffs.py.
    first_floor: float = 1.0
    # Once every call has been refused for this long (a whole --retry-deadline: no call could have got
    # through), calls are no longer sent: each would only wait out another deadline. None: never.
    give_up_after: float | None = None

    window: float = 1.0
    in_flight: int = 0
    # Per operation (a write may take longer than a read without anything being full): the fastest median
    # answer time (see RTT_FORGET), and the last answer times.
    min_rtt: dict[str, float] = field(default_factory=dict)
    _rtts: dict[str, deque[float]] = field(default_factory=dict)
    slow_start: bool = True
    rate: float | None = None  # calls/s; None while unpaced (no quota shown, or the refusals were not ours)
    throttles: int = 0
    answered: int = 0  # successful calls, ever
    quiet: int = 0  # successful calls since the last throttle acted on
    _started: float | None = None
    _next_send: float = 0.0
    _last_change: float = -math.inf  # when the window or rate last reacted to a throttle
    # The first estimate: calls let through before the first throttle (counting those answered after it),
    # over the time until it plus one second; and when it came.
    _first: tuple[int, float, float] | None = None
    _condition: threading.Condition = field(default_factory=threading.Condition)
    # A queue by ticket: the caller holding `_serving` is the next to take a place and a start time.
    _tickets: int = 0
    _serving: int = 0
    _abandoned: set[int] = field(default_factory=set)
    # The last answers (True: refused); the share of refusals found not to be ours; the test running.
    _recent: deque[bool] = field(default_factory=lambda: deque(maxlen=RECENT_ANSWERS))
    tolerated: float = 0.0
    _refusals: float = 0.0
    _test: _Test | None = None
    _refused_since: float | None = None  # the first refusal since the last call let through
    _in_a_row: int = 0

    def acquire(self, operation: str = "call", membership_id: str | None = None) -> float:
        """Wait for a place in the window and, when pacing, for the next start time; returns the send time.

        Callers are served strictly in the order they asked: under a steady quota every call waits about
        (calls ahead of it) / rate, never indefinitely while later callers win the race for freed places.
        A call whose deadline (retry.DEADLINE) comes first gives up its place in the queue with a 429 of
        its own: the service's throttling left it no turn in time."""
        with self._condition:
            self._refused_throughout(operation, membership_id)
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

    def _refused_throughout(self, operation: str, membership_id: str | None) -> None:
        if self.give_up_after is None or self._refused_since is None:
            return
        refused = self.clock() - self._refused_since
        if refused >= self.give_up_after:
            raise refused_throughout(operation, membership_id, refused)

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
            throttled = error is not None and classify(error) is Retry.THROTTLED
            if error is None or throttled:
                self._heard(throttled, sent, now)
            if error is None:
                self._answered(operation, sent, now)
            elif throttled:
                self.throttles += 1
                if sent >= self._last_change and self._ours():
                    self._throttled(now)
                elif self.rate is None and 0 < self.answered < LEARN_ANSWERS and self._in_a_row == 1:
                    # Not yet a lesson, but fewer calls in flight until it is one: a quota's burst just spent
                    # would refuse them all (a refusal at random costs one round trip of slow start).
                    self.window = max(1.0, self.window / 2)
                # Unpaced, within the share of refusals found not to be ours: resending soon is as good as
                # waiting longer.
                error.at_random = self.rate is None and self._tolerating()
            self._condition.notify_all()

    def _heard(self, refused: bool, sent: float, now: float) -> None:
        """Keep the signs that tell a quota from refusals that are not about our pace; judge the test."""
        self._recent.append(refused)
        self._in_a_row = self._in_a_row + 1 if refused else 0
        if not refused:
            self._refused_since = None
        elif self._refused_since is None:
            self._refused_since = now
        self._refusals += TOLERANCE_WEIGHT * (refused - self._refusals)
        if self._refusals < self.tolerated * TOLERANCE_END:
            self.tolerated = 0.0
        test = self._test
        if test is None or sent <= self._last_change:
            return
        test.answers += 1
        test.refused += refused
        if (test.refused == 0 and test.answers >= TEST_ANSWERS) or test.answers >= TEST_LONGEST:
            self._test = None  # slower, and no longer refused (or undecided): the pace was ours to fix
        elif test.answers >= test.stage_answers and test.refused >= max(TEST_REFUSED, test.answers / STILL_ONE_IN):
            self._still_refused(test, now)

    def _still_refused(self, test: _Test, now: float) -> None:
        assert self.rate is not None
        share = test.refused / test.answers
        self._test = self._first = None
        if test.stage:
            let_at_stage = 1 - test.share
            if 1 - share <= let_at_stage * QUOTA_RATIO or self._refusals > TOLERABLE:
                # A third of the share let through at three times the pace: the same calls per second.
                self.tolerated = 0.0
                let_through = let_at_stage * test.stage + test.answers - test.refused  # over both paces' answers
                per_second = let_through * self.rate / (test.stage * PROBE_PACE + test.answers)
                self._change(now, max(self.min_rate, per_second * FIRST_SHARE * OVER))
                return
        elif share < test.share * FELL and self._refusals <= TOLERABLE:
            # Refused less than half as often here as before: a quota under this pace. Cut, and tested again.
            self._test = _Test(test.share, test.window, test.stage_answers)
            self._change(now, max(self.min_rate, self.rate * min(DECREASE, 1 - share)))
            return
        elif abs(share - test.share) > SAME_MARGIN or self._refusals > TOLERABLE:
            self._test = _Test(share, test.window, PROBE_ANSWERS, stage=test.answers)
            self._change(now, self.rate * PROBE_PACE)
            return
        # Refused as often whatever the pace: not ours. Unpaced again, as many in flight as before the test.
        tolerated = max(self.tolerated, share, self._recent_share(), self._refusals)
        self.tolerated = self._refusals = min(tolerated, TOLERABLE)
        self.window = max(self.window, test.window)
        self.slow_start = True
        self._change(now, None)

    def _change(self, now: float, rate: float | None) -> None:
        self.rate, self.quiet, self._last_change = rate, 0, now
        self._next_send = now + (1.0 / rate if rate else 0.0)

    def _ours(self) -> bool:
        """Whether this throttle is a lesson about our pace (see LEARN_ANSWERS, TESTED_SHARE and
        TOLERANCE_MARGIN)."""
        if self._test is not None or self._tolerating():
            return False
        learnt = self.answered >= LEARN_ANSWERS or (self.answered > 0 and self._in_a_row >= IN_A_ROW)
        return self.rate is not None or learnt

    def _recent_share(self) -> float:
        """The share of refusals among the last RECENT_ANSWERS answers (this one included)."""
        return sum(self._recent) / len(self._recent)

    def _tolerating(self) -> bool:
        margin = min(TOLERANCE_MARGIN, (1 - self.tolerated) / 2)
        likely = self.tolerated**self._in_a_row >= UNLIKELY
        return bool(self.tolerated) and self._refusals <= self.tolerated + margin and likely

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
        rtts = self._rtts.setdefault(operation, deque(maxlen=RTT_ANSWERS))
        rtts.append(now - sent)
        # Judged once there are enough answers for a median (the first ones also pay for connections).
        rtt = statistics.median(rtts) if len(rtts) == RTT_ANSWERS else None
        if rtt is not None:
            self.min_rtt[operation] = min(self.min_rtt.get(operation, rtt) * (1 + RTT_FORGET), rtt)
        if rtt is not None and rtt > self.min_rtt[operation] * self.slow_factor + self.slow_allowance:
            # Queueing somewhere: more calls in flight would only wait longer. Shrink gently.
            self.slow_start = False
            self.window = max(1.0, self.window - 1.0 / self.window)
        elif self.slow_start:
            self.window = min(float(self.max_concurrency), self.window + 1.0)
        else:
            self.window = min(float(self.max_concurrency), self.window + 1.0 / self.window)
        if self.rate is None:
            return
        if self._first is not None and sent < self._first[2]:
            # In flight at the first throttle and let through: part of what the first estimate counts.
            count, span, at = self._first
            self._first = (count + 1, span, at)
            self.rate = max(self.rate, (count + 1) / span * FIRST_SHARE)
        else:
            # Additive increase, per answered call so that probing costs the same share of calls at any
            # rate; faster the longer no throttle came, in case the estimate is far too low.
            self.rate *= 1.0 + CREEP_PER_CALL * (self.quiet / QUIET_CALLS)

    def _throttled(self, now: float) -> None:
        # A lesson: whatever share of refusals was tolerated no longer holds (the test says anew).
        self.tolerated = 0.0
        recent = self._recent_share()
        if recent >= TESTED_SHARE:
            early = self.answered < LEARN_ANSWERS
            self._test = _Test(recent, self.window, EARLY_STAGE_ANSWERS if early else STAGE_ANSWERS)
        self.slow_start = False
        self.window = max(1.0, self.window / 2)
        if self.rate is None:
            began = self._started if self._started is not None else now
            self._first = (self.answered, now - began + 1.0, now)
            self.rate = max(self.first_floor, self.answered / self._first[1]) * FIRST_SHARE
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


@dataclass
class _Test:
    """Whether a pace changes how often calls are refused (see TESTED_SHARE)."""

    share: float  # of refusals before this pace: among the recent answers, or at the stage before a probe
    window: float  # before the test began
    stage_answers: int  # answers that say the pace is still refused, with TEST_REFUSED refusals
    stage: int = 0  # a probe's (at PROBE_PACE times the pace): the answers at the stage before, refused `share`
    answers: int = 0  # to calls sent since the last change
    refused: int = 0
