"""The rate controller under throttling that is not a steady quota, over minutes of simulated time on a fake
clock (storms.py): recovery after a burst within its bound, random refusals that do not collapse the pace,
a shared quota shared. The same controller still holds a steady quota."""

from __future__ import annotations

import pytest

from reconciler.core.retry import RetryPolicy

from .storms import Result, Service, Storm, at_random, burst, quota

SEEDS = range(1, 11)


def never(_t: float) -> bool:
    return False


def storm(service: Service, memberships: int, latency: float, seed: int = 7) -> Result:
    return Storm(service, memberships, latency, seed=seed).run()


def sustained(result: Result, burst_size: float) -> float:
    """Calls let through per second after the bucket's burst, which is spent at any speed."""
    return (result.calls - result.throttled - burst_size) / result.elapsed


def test_a_burst_from_the_first_request_costs_about_the_burst() -> None:
    # Every call refused for 5 s, then none: the refusals come before any answer, so they teach nothing of a
    # limit, and the run goes on at full speed once they end (it took 570 s when they cut the pace).
    base = storm(never, 1000, 0.05)
    for seed in SEEDS:
        result = storm(burst(5.0), 1000, 0.05, seed)
        assert result.failed == 0
        assert result.elapsed <= 1.3 * (base.elapsed + 5.0)
        assert result.elapsed >= 5.0


@pytest.mark.parametrize("share", [0.3, 0.6])
def test_random_refusals_do_not_take_the_pace_to_its_floor(share: float) -> None:
    # Refused at random whatever the pace: once slowing down is seen not to help, the calls go unpaced again
    # with that share tolerated, instead of each refusal cutting the pace (100 memberships took 330 s at 30%
    # and 580 s at 60% that way; unthrottled they take 0.16 s here). What remains is the time the test
    # takes at the first estimate's pace, which early in a run is low.
    for seed in SEEDS:
        result = Storm(at_random(share, seed), 100, 0.02, seed=seed)
        outcome = result.run()
        assert outcome.failed == 0
        assert outcome.elapsed <= 60
        assert outcome.throttled_share == pytest.approx(share, abs=0.1)


def test_random_refusals_of_a_thousand_memberships_are_tolerated() -> None:
    for seed in SEEDS[:3]:
        outcome = Storm(at_random(0.3, seed), 1000, 0.02, seed=seed).run()
        assert outcome.failed == 0
        assert outcome.elapsed <= 200  # 3,340 s when each refusal cut the pace


def test_a_shared_quota_is_shared() -> None:
    # A bucket of 50/s of which another client takes 25/s first: we get most of what is left, politely.
    result = storm(quota(50, other=25), 1000, 0.02)
    assert result.failed == 0
    assert sustained(result, 50) >= 0.8 * 25
    assert result.throttled_share <= 0.05


@pytest.mark.parametrize(("rate", "memberships"), [(5, 1000), (50, 1000)])
def test_a_steady_quota_is_still_held(rate: float, memberships: int) -> None:
    result = storm(quota(rate), memberships, 0.02)
    assert sustained(result, rate) >= 0.9 * rate
    assert result.throttled_share <= 0.05


def test_a_service_that_throttles_everything_ends_every_call_at_its_deadline() -> None:
    result = Storm(lambda _t: True, 30, 0.0, policy=RetryPolicy(deadline=5.0)).run()
    assert result.failed == 30
    assert 4.0 <= result.elapsed <= 5.0
