"""The rate controller and the gateway wrapper that feeds it, with an injected clock and sleep."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from reconciler.core.api import AwsError, Where
from reconciler.core.retry import Retry, classify
from reconciler.edges.aws.paced import LimitedGateway
from reconciler.edges.aws.ratelimit import (
    CLOSE_CALLS,
    CREEP_PER_CALL,
    CUT,
    DECREASE,
    FIRST_SHARE,
    IN_A_ROW,
    LEARN_ANSWERS,
    OVER,
    PROBE_ANSWERS,
    PROBE_PACE,
    QUIET_CALLS,
    RTT_ANSWERS,
    TEST_ANSWERS,
    TOLERABLE,
    RateController,
)

from ..core.test_retry import FakeClock
from ..fakes import FakeGateway, server_error, throttled

THROTTLED = throttled("GetMembership")


def controller(clock: FakeClock, **kwargs: float) -> RateController:
    return RateController(clock=clock, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


def call(limiter: RateController, clock: FakeClock, rtt: float, error: Exception | None = None) -> None:
    sent = limiter.acquire()
    clock.now += rtt
    limiter.release("GetMembership", sent, error)  # type: ignore[arg-type]


def calls(limiter: RateController, clock: FakeClock, rtt: float, refused: str) -> None:
    """One call per character: "x" refused, "." let through."""
    for answer in refused:
        call(limiter, clock, rtt, throttled("GetMembership") if answer == "x" else None)


def learnt(limiter: RateController, clock: FakeClock, rtt: float = 0.01) -> None:
    """Enough answers that the next throttle is a lesson (see LEARN_ANSWERS)."""
    calls(limiter, clock, rtt, "." * LEARN_ANSWERS)


def test_the_window_starts_at_one_and_grows_by_one_per_quick_answer() -> None:
    clock = FakeClock()
    limiter = controller(clock)
    assert limiter.window == 1
    for _ in range(10):
        call(limiter, clock, 0.05)
    assert limiter.window == 11
    assert limiter.rate is None and clock.sleeps == []


def test_the_window_stops_at_its_cap() -> None:
    clock = FakeClock()
    limiter = RateController(max_concurrency=4, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        call(limiter, clock, 0.05)
    assert limiter.window == 4


def test_slow_answers_leave_slow_start_and_shrink_the_window() -> None:
    clock = FakeClock()
    limiter = controller(clock)
    for _ in range(7):
        call(limiter, clock, 0.05)
    assert limiter.window == 8
    for _ in range(RTT_ANSWERS // 2):
        call(limiter, clock, 0.5)  # ten times the fastest, but not yet most of the last answers
    assert limiter.window == 12 and limiter.slow_start
    call(limiter, clock, 0.5)  # most of them now: the pipe is full
    assert limiter.window == pytest.approx(12 - 1 / 12)
    assert not limiter.slow_start
    for _ in range(RTT_ANSWERS // 2 + 1):
        call(limiter, clock, 0.05)  # until most of the last answers are quick again, still full
    assert limiter.window < 12 - 1 / 12
    shrunk = limiter.window
    call(limiter, clock, 0.05)
    assert limiter.window == pytest.approx(shrunk + 1 / shrunk)


def test_answers_that_vary_threefold_are_not_a_full_pipe() -> None:
    # 25, 50 and 75 ms in turn: the slowest is three times the fastest, as is common where latency varies,
    # and each one judged alone shrank the window (to a few calls in flight, 4x the wall, in the model).
    clock = FakeClock()
    limiter = controller(clock)
    for i in range(30):
        call(limiter, clock, (0.025, 0.05, 0.075)[i % 3])
    assert limiter.window == 31 and limiter.slow_start


def test_the_fastest_answers_are_forgotten_slowly() -> None:
    # A run's fastest stretch does not set the bar for the rest of it: answers two and a half times as slow
    # shrink the window at first, then (the fastest median creeping up RTT_FORGET per answer) count as
    # quick again, where the fastest ever judged them full for good.
    clock = FakeClock()
    limiter = controller(clock)
    calls(limiter, clock, 0.01, "." * RTT_ANSWERS)
    assert limiter.window == 1 + RTT_ANSWERS
    calls(limiter, clock, 0.025, "." * (RTT_ANSWERS // 2 + 1))
    assert not limiter.slow_start and limiter.window == pytest.approx(14 - 1 / 14)  # grew by 4, shrank
    calls(limiter, clock, 0.025, "." * 40)
    assert 0.0125 < limiter.min_rtt["GetMembership"] < 0.025  # 0.025 is no longer twice the fastest
    before = limiter.window
    call(limiter, clock, 0.025)
    assert limiter.window == pytest.approx(before + 1 / before)


def test_a_slow_write_is_not_judged_against_fast_reads() -> None:
    clock = FakeClock()
    limiter = controller(clock)
    for _ in range(3):
        call(limiter, clock, 0.05)
    sent = limiter.acquire()
    clock.now += 0.5
    limiter.release("UpdateMembership", sent, None)
    assert limiter.window == 5 and limiter.slow_start


def test_the_first_throttle_paces_under_the_rate_let_through_since_the_first_answer_plus_a_second() -> None:
    clock = FakeClock()
    limiter = controller(clock)
    learnt(limiter, clock, 0.1)  # answered at 0.1, 0.2, ... 1.6 s: 16 calls
    call(limiter, clock, 0.1, THROTTLED)  # 1.6 s after the first answer
    assert limiter.rate == pytest.approx(16 / 2.6 * FIRST_SHARE)
    assert limiter.window == pytest.approx(17 / 2)
    assert limiter.throttles == 1
    # The bucket is empty: the next call waits one interval.
    before, rate = clock.now, limiter.rate
    limiter.acquire()
    assert clock.now - before == pytest.approx(1 / (16 / 2.6 * FIRST_SHARE))
    assert rate is not None


def test_refusals_before_any_answer_teach_nothing() -> None:
    # A service that refuses everything (another job's burst, an outage) says nothing of a quota: the calls
    # retry unpaced, and the pace is left to the answers that follow (a 5 s burst from the first call took a
    # run of 1,000 memberships to 0.5 calls/s and 570 s).
    clock = FakeClock()
    limiter = controller(clock)
    for _ in range(20):
        call(limiter, clock, 0.1, THROTTLED)
    assert (limiter.rate, limiter.window, limiter.throttles) == (None, 1, 20)
    call(limiter, clock, 0.1)
    calls(limiter, clock, 0.1, "x" * IN_A_ROW)  # after an answer, every call refused: a quota's burst spent
    assert limiter.rate == pytest.approx(1.0 * FIRST_SHARE)  # (1/1.3 s, at least 1 call/s)


def test_a_refusal_early_in_the_run_teaches_nothing_unless_refusals_come_in_a_row() -> None:
    # Refusals at random scattered among the first answers would set a pace from a handful of answers: a
    # low one (a 100-membership run at 30% random refusals took 25 s, 9 times the ideal, testing it).
    clock = FakeClock()
    limiter = controller(clock)
    calls(limiter, clock, 0.01, ".x..xx.x..xx...x.x.")
    assert (limiter.answered, limiter.throttles, limiter.rate) == (11, 8, None)
    calls(limiter, clock, 0.01, ".....x")  # 16 answers: now a throttle is a lesson
    assert limiter.rate is not None
    clock = FakeClock()
    limiter = controller(clock)
    calls(limiter, clock, 0.01, ".." + "x" * (IN_A_ROW - 1))
    assert limiter.rate is None
    call(limiter, clock, 0.01, THROTTLED)  # a quota's burst of two, spent: every call refused
    assert limiter.rate == pytest.approx(2 / 1.04 * FIRST_SHARE)


def test_an_early_refusal_halves_the_window_once_per_run_of_refusals() -> None:
    # Not a lesson yet, but a quota's burst just spent refuses every call in flight: fewer are sent until it
    # is one (at 5 calls/s, 100 memberships met 7% 429s without this, 5% allowed).
    clock = FakeClock()
    limiter = controller(clock)
    calls(limiter, clock, 0.01, ".......")
    assert limiter.window == 8
    calls(limiter, clock, 0.01, "x")
    assert limiter.window == 4 and limiter.rate is None
    calls(limiter, clock, 0.01, "x")  # the same run of refusals: once is enough
    assert limiter.window == 4 and limiter.slow_start
    calls(limiter, clock, 0.01, ".x")  # a success between: a new run
    assert limiter.window == 2.5


def test_a_success_in_flight_at_the_first_throttle_adds_to_the_first_estimate() -> None:
    clock = FakeClock()
    limiter = controller(clock)
    learnt(limiter, clock, 0.1)  # the window is 17 now; the first answer at 0.1 s
    early = [limiter.acquire() for _ in range(2)]
    call(limiter, clock, 0.2, THROTTLED)  # at 1.8 s
    assert limiter.rate == pytest.approx(16 / 2.7 * FIRST_SHARE)
    clock.now += 0.01
    for sent in early:
        limiter.release("GetMembership", sent, None)
    assert limiter.rate == pytest.approx(18 / 2.7 * FIRST_SHARE)


def test_a_throttle_for_a_call_sent_before_the_last_adjustment_is_counted_not_acted_on() -> None:
    clock = FakeClock()
    limiter = controller(clock)
    learnt(limiter, clock)  # the window is 17 now
    early = limiter.acquire()
    call(limiter, clock, 0.01, THROTTLED)
    rate = limiter.rate
    clock.now += 0.01
    limiter.release("GetMembership", early, THROTTLED)  # in flight before the first throttle was heard
    assert limiter.throttles == 2 and limiter.rate == rate


def test_the_rate_creeps_up_per_answered_call_and_faster_the_longer_no_throttle_comes() -> None:
    clock = FakeClock()
    limiter = controller(clock)
    learnt(limiter, clock)
    call(limiter, clock, 0.01, THROTTLED)
    rates = [limiter.rate]
    for _ in range(2 * QUIET_CALLS):
        call(limiter, clock, 0.01)
        rates.append(limiter.rate)
    steps = [b / a - 1 for a, b in itertools.pairwise(rates) if a is not None and b is not None]
    assert steps[0] == pytest.approx(CREEP_PER_CALL * 1 / QUIET_CALLS)
    assert steps[-1] == pytest.approx(CREEP_PER_CALL * 2)


def test_a_throttle_soon_after_the_last_cuts_deep_and_one_long_after_cuts_a_little() -> None:
    clock = FakeClock()
    limiter = controller(clock)
    learnt(limiter, clock)
    call(limiter, clock, 0.01, THROTTLED)
    for _ in range(CLOSE_CALLS - 1):
        call(limiter, clock, 0.01)
    before = limiter.rate
    assert before is not None
    # Soon after the first estimate, which counts the bucket's burst: a small cut. (A deep one here left a
    # 100-membership run at 5 calls/s paced at 77% of the quota.)
    call(limiter, clock, 0.01, THROTTLED)
    assert limiter.rate == pytest.approx(before * DECREASE)
    # The two throttles put the cut pace to a test; it stops the refusals, and passes.
    calls(limiter, clock, 0.01, "." * (TEST_ANSWERS + 10))
    before = limiter.rate
    assert before is not None and limiter._test is None
    call(limiter, clock, 0.01, THROTTLED)  # long after the last: a small cut
    assert limiter.rate == pytest.approx(before * DECREASE)
    for _ in range(CLOSE_CALLS - 1):
        call(limiter, clock, 0.01)
    before = limiter.rate
    assert before is not None
    call(limiter, clock, 0.01, THROTTLED)  # soon after it: a deep cut
    assert limiter.rate == pytest.approx(before * CUT)


def test_a_start_time_booked_before_a_throttle_is_booked_again_at_the_new_rate() -> None:
    clock = FakeClock()
    booked: list[float] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if not booked:
            # While this call sleeps towards its start time, another call is throttled.
            booked.append(clock.now)
            limiter.rate = 1.0
            limiter._last_change = clock.now
            limiter._next_send = clock.now + 2.0

    limiter = RateController(clock=clock, sleep=sleep)
    limiter.rate, limiter._next_send = 10.0, 0.1
    sent = limiter.acquire()
    assert sent == pytest.approx(2.1)


def test_other_errors_teach_nothing() -> None:
    clock = FakeClock()
    limiter = controller(clock)
    call(limiter, clock, 0.01, server_error("GetMembership"))
    assert (limiter.window, limiter.rate, limiter.throttles, limiter.in_flight) == (1, None, 0, 0)


def test_reads_and_writes_share_the_controller_of_their_account_and_region() -> None:
    inner = FakeGateway()
    mid = inner.add(queryLogStatus="DISABLED")
    here, there = Where("us-east-1"), Where("eu-west-1", "444455556666")
    gateway = LimitedGateway(inner, lambda: RateController(sleep=lambda _: None))
    inner.then("GetMembership", throttled("GetMembership", mid))
    inner.then("UpdateMembership", None, throttled("UpdateMembership", mid))
    with pytest.raises(Exception, match="ThrottlingException"):
        gateway.get_membership(here, mid)
    gateway.update_membership(here, mid, {})
    with pytest.raises(Exception, match="ThrottlingException"):
        gateway.update_membership(here, mid, {})
    assert gateway.controller(here).throttles == 2 and gateway.controller(here).answered == 1
    assert gateway.controller(there).throttles == 0 and gateway.controller(there).answered == 0
    assert gateway.controller(here).in_flight == 0


def test_each_page_of_a_listing_is_one_paced_call() -> None:
    inner = FakeGateway(page_size=2)
    for _ in range(5):
        inner.add()
    where = Where("us-east-1")
    gateway = LimitedGateway(inner, lambda: RateController(sleep=lambda _: None))
    inner.then("ListMemberships", None, throttled("ListMemberships"))
    first = gateway.list_memberships(where, None, None)
    with pytest.raises(Exception, match="ThrottlingException"):
        gateway.list_memberships(where, None, first.next_token)
    assert gateway.controller(where).answered == 1 and gateway.controller(where).throttles == 1


def test_calls_waiting_for_the_pace_take_their_start_times_one_at_a_time() -> None:
    # Booking start times ahead for every waiting call would let a throttle's cut reach only the calls
    # after all of them: at 1 call/s with 30 waiting, a 30 s gap (seen at a quota of 1/s).
    clock, gate, sleeping = FakeClock(), threading.Event(), []
    clock.now = 10.0

    def sleep(seconds: float) -> None:
        sleeping.append(seconds)
        gate.wait()
        clock.now += seconds

    limiter = RateController(clock=clock, sleep=sleep, window=8.0)
    limiter.rate, limiter._next_send = 1.0, 10.5
    starts: list[float] = []
    threads = [threading.Thread(target=lambda: starts.append(limiter.acquire()), daemon=True) for _ in range(5)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 5
        while (limiter._tickets < 5 or not sleeping) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # time enough for any other caller to book a start time, were it able to
        assert (limiter._tickets, limiter.in_flight) == (5, 1)
        assert sleeping == [0.5] and limiter._next_send == pytest.approx(11.5)
    finally:
        gate.set()
    for thread in threads:
        thread.join(timeout=5)
    assert starts == pytest.approx([10.5, 11.5, 12.5, 13.5, 14.5])


def test_calls_start_in_the_order_they_asked_for_a_place() -> None:
    # Under a steady quota a call may wait while others go first, but never indefinitely: a call that lost
    # every race for a freed place once waited out its whole retry deadline (seen at 10 calls/s, 32 threads).
    limiter = RateController(max_concurrency=1, sleep=lambda _: None)
    limiter.acquire()  # the one place is taken
    order: list[str] = []

    def call(name: str) -> None:
        limiter.acquire()
        order.append(name)

    def start(name: str) -> threading.Thread:
        thread = threading.Thread(target=call, args=(name,), daemon=True)
        thread.start()
        time.sleep(0.02)  # time to reach the queue
        return thread

    threads = [start(f"waiting-{i}") for i in range(8)]
    for i in range(8):
        done = len(order)
        limiter.release("GetMembership", limiter.clock(), None)
        # A newcomer asks the moment a place frees: it must queue behind everyone already waiting.
        threads.append(start(f"newcomer-{i}"))
        deadline = time.monotonic() + 5
        while len(order) == done and time.monotonic() < deadline:
            time.sleep(0.001)
    assert order == [f"waiting-{i}" for i in range(8)]
    for _ in range(8):
        limiter.release("GetMembership", limiter.clock(), None)
    for thread in threads:
        thread.join(timeout=5)
    assert order[8:] == [f"newcomer-{i}" for i in range(8)]


def test_a_caller_interrupted_while_queued_gives_up_its_turn() -> None:
    class Interrupting(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            if threading.current_thread().name == "interrupted":
                raise KeyboardInterrupt
            return super().wait(timeout)

    limiter = RateController(max_concurrency=1, sleep=lambda _: None, _condition=Interrupting())
    limiter.acquire()  # the one place is taken: whoever comes next queues
    outcome: list[str] = []

    def interrupted() -> None:
        try:
            limiter.acquire()
        except KeyboardInterrupt:
            outcome.append("interrupted")

    first = threading.Thread(target=interrupted, name="interrupted", daemon=True)
    first.start()
    first.join(timeout=5)
    later = threading.Thread(target=lambda: outcome.append(f"served at {limiter.acquire()}"), daemon=True)
    later.start()
    time.sleep(0.05)
    limiter.release("GetMembership", limiter.clock(), None)
    later.join(timeout=5)
    assert outcome[0] == "interrupted" and outcome[1].startswith("served at ")
    assert (limiter._serving, limiter._abandoned, limiter.in_flight) == (3, set(), 1)


def test_after_a_whole_deadline_of_nothing_but_refusals_calls_are_no_longer_sent() -> None:
    # However many memberships: once the service has refused every call for a --retry-deadline, no call
    # could have got through, and each new one would only wait out another deadline.
    clock = FakeClock()
    limiter = controller(clock, give_up_after=5.0)
    for _ in range(49):
        call(limiter, clock, 0.1, THROTTLED)  # the first refusal at 0.1 s, the last at 4.9 s
    call(limiter, clock, 0.25, THROTTLED)  # asked at 4.9 s, 4.8 s after the first refusal: sent
    with pytest.raises(AwsError) as caught:
        limiter.acquire("GetMembership", "m-1")  # at 5.15 s
    assert caught.value.code == "RefusedThroughout" and classify(caught.value) is Retry.NEVER
    assert "refused every call in this account and region for 5 s" in str(caught.value)
    assert limiter.in_flight == 0


def test_a_call_let_through_ends_the_refusals_that_count_toward_giving_up() -> None:
    clock = FakeClock()
    limiter = controller(clock, give_up_after=5.0)
    for _ in range(40):
        call(limiter, clock, 0.1, THROTTLED)  # 0.1 to 4.0 s
    call(limiter, clock, 0.1)  # let through at 4.1 s
    sent = limiter.acquire()
    clock.now = 8.0
    limiter.release("GetMembership", sent, THROTTLED)  # refused again from 8.0 s only
    limiter.release("GetMembership", limiter.acquire(), None)  # so at 8.0 s, still sent
    assert limiter.answered == 2


def on_test(clock: FakeClock) -> RateController:
    """A controller whose pace was just set on a fifth of the recent answers refused, so is being tested."""
    limiter = controller(clock)
    calls(limiter, clock, 0.01, ".x.x.x" + "." * 13 + "x")
    assert limiter.answered == LEARN_ANSWERS and limiter.rate is not None and limiter._test is not None
    assert limiter._test.share == pytest.approx(0.2)
    return limiter


def test_refusals_as_frequent_at_the_new_pace_are_tolerated_unpaced() -> None:
    clock = FakeClock()
    limiter = on_test(clock)
    window = limiter._test.window if limiter._test else 0.0
    calls(limiter, clock, 0.01, "x.x...")  # a third refused: about as often as before the pace was set
    assert limiter.rate is None and limiter.tolerated == pytest.approx(1 / 3)
    assert limiter.window >= window == 14 and limiter.slow_start  # as many in flight as before the test
    # The same share from now on teaches nothing, and a refused call is resent without a growing backoff.
    refusal = throttled("GetMembership")
    for _ in range(30):
        calls(limiter, clock, 0.01, "..")
        call(limiter, clock, 0.01, refusal)
        assert limiter.rate is None and refusal.at_random


def test_a_probe_at_three_times_the_pace_finds_a_quota_under_both_paces() -> None:
    clock = FakeClock()
    limiter = on_test(clock)
    first = limiter.rate
    assert first is not None
    calls(limiter, clock, 0.01, ".x.x.x")  # refused half the time, more than before: a long burst counted?
    assert limiter.rate == pytest.approx(PROBE_PACE * first, rel=1e-3) and limiter._test is not None
    calls(limiter, clock, 0.01, ".xxxxx" * (PROBE_ANSWERS // 6))  # a third of the share let through: a quota's
    # 3 + 2 calls let through in 6 answers at the first pace and 12 at three times it: half the first pace,
    # taken a quarter high.
    assert limiter.rate == pytest.approx(first * 0.5 * FIRST_SHARE * OVER, rel=5e-3)
    assert limiter.tolerated == 0.0 and limiter._test is None


def test_a_probe_let_through_as_often_is_refusals_at_random() -> None:
    clock = FakeClock()
    limiter = on_test(clock)
    calls(limiter, clock, 0.01, ".x.x.x")
    assert limiter._test is not None and limiter._test.stage == 6
    calls(limiter, clock, 0.01, ".x" * (PROBE_ANSWERS // 2))  # the same share let through: not our pace
    assert limiter.rate is None and limiter.tolerated == pytest.approx(0.5)


def test_refused_less_than_half_as_often_at_the_new_pace_is_a_quota_a_little_under_it() -> None:
    clock = FakeClock()
    limiter = controller(clock)
    calls(limiter, clock, 0.01, "..x" * 8)  # paced on the 16th answer's refusal, 7 of the last 20 refused
    first = limiter.rate
    assert first is not None and limiter._test is not None and limiter._test.share == pytest.approx(0.35)
    calls(limiter, clock, 0.01, "x" + "." * 10 + "x")  # 2 in 12 refused, under half: cut, no probe
    # To the share let through (5/6) where that is less than DECREASE: a quota well under the pace is reached
    # in one cut, not in steps of 10% of two refusals each (the endpoint's shared quota: five such steps).
    assert limiter.rate == pytest.approx(first * (1 - 2 / 12), rel=2e-3)  # (the creep of ten answers aside)
    assert limiter._test is not None and limiter._test.share == pytest.approx(0.35)  # the cut pace is tested
    calls(limiter, clock, 0.01, "." * TEST_ANSWERS)  # no longer refused: a quota, held
    assert limiter._test is None and limiter.rate is not None and limiter.tolerated == 0.0


def test_refusals_at_random_that_fell_by_chance_are_found_at_the_next_pace() -> None:
    # Refused as often at the cut pace as before the first: not our pace after all. Before, the cut ended the
    # test, the next refusal cut deeply again, and 60% at random at 100 memberships took up to 7.6x the ideal.
    clock = FakeClock()
    limiter = controller(clock)
    calls(limiter, clock, 0.01, "..x" * 8)
    calls(limiter, clock, 0.01, "x" + "." * 10 + "x")
    calls(limiter, clock, 0.01, "..x..x")  # a third refused, about as often as before the first pace
    assert limiter.rate is None and limiter.tolerated == pytest.approx(1 / 3)  # unpaced, that share tolerated


def test_a_pace_that_stops_the_refusals_passes_its_test() -> None:
    clock = FakeClock()
    limiter = on_test(clock)
    calls(limiter, clock, 0.1, "." * TEST_ANSWERS)
    before = limiter.rate
    assert before is not None and limiter._test is None and limiter.tolerated == 0.0
    call(limiter, clock, 0.1, THROTTLED)  # the test passed: a throttle cuts again (a little, the first time)
    assert limiter.rate == pytest.approx(before * DECREASE)


def test_refusals_well_over_the_share_tolerated_are_paced_again() -> None:
    clock = FakeClock()
    limiter = on_test(clock)
    calls(limiter, clock, 0.01, "x.x...")
    assert limiter.rate is None and limiter.tolerated == pytest.approx(1 / 3)
    # A quota on top, letting one call in eight through: the refusals' average (weight 0.03) passes 1/3 + 0.3
    # at the 27th answer, though never more than seven come in a row.
    calls(limiter, clock, 0.01, ("xxxxxxx." * 4)[:26])
    assert limiter.rate is None
    call(limiter, clock, 0.01, THROTTLED)  # a lesson: paced, and the tolerance is for the test to set anew
    assert limiter.rate is not None and limiter.tolerated == 0.0 and limiter._test is not None


def test_a_run_of_refusals_the_share_tolerated_makes_unlikely_is_paced_again() -> None:
    # Nine in a row where a third are refused happen one time in 20,000 (UNLIKELY: 1 in 10,000): a quota came
    # on top. At the endpoint, a shared quota taken for refusals at random was refused 26 times in a row before
    # the average told, 2.5% of a 1,000-membership plan's calls.
    clock = FakeClock()
    limiter = on_test(clock)
    calls(limiter, clock, 0.01, "x.x...")
    calls(limiter, clock, 0.01, "x" * 8)
    assert limiter.rate is None
    call(limiter, clock, 0.01, THROTTLED)
    assert limiter.rate is not None and limiter.tolerated == 0.0 and limiter._test is not None


def test_no_more_than_four_refusals_in_five_are_tolerated() -> None:
    # Refusals of nearly every call at any pace: tolerated at most up to TOLERABLE, so that every call
    # refused (a quota on top, an outage) is still more than the tolerance.
    clock = FakeClock()
    limiter = on_test(clock)
    calls(limiter, clock, 0.01, "xx.xxx")  # refused more than before: probed
    calls(limiter, clock, 0.01, "xxx.xx" * (PROBE_ANSWERS // 6))  # as often at three times the pace
    assert limiter.rate is None and limiter.tolerated == TOLERABLE == 0.8
    calls(limiter, clock, 0.01, "x" * 22)
    assert limiter.rate is None
    call(limiter, clock, 0.01, THROTTLED)  # the average is past 0.8 + 0.1 at the 23rd in a row
    assert limiter.rate is not None


def test_the_tolerance_ends_when_the_refusals_fall_to_a_quarter_of_it() -> None:
    clock = FakeClock()
    limiter = on_test(clock)
    calls(limiter, clock, 0.01, "x.x...")
    assert limiter.tolerated == pytest.approx(1 / 3)
    calls(limiter, clock, 0.01, "." * 45)  # the average falls from 1/3 by 3% a call: under 1/12 at 46
    assert limiter.tolerated == pytest.approx(1 / 3)
    calls(limiter, clock, 0.01, ".")
    assert limiter.tolerated == 0.0
    call(limiter, clock, 0.01, THROTTLED)  # refusals are lessons again
    assert limiter.rate is not None
