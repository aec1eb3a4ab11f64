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


@pytest.mark.parametrize(("share", "bound"), [(0.3, 3.0), (0.6, 12.0)])
def test_random_refusals_do_not_collapse_the_pace(share: float, bound: float) -> None:
    # Refused at random whatever the pace: slowing down would not help, so the calls stay unpaced and each
    # refusal costs a short backoff, not a pace at the floor (100 memberships took 330 s that way; unthrottled
    # they take 0.16 s here, and the bound is the longest run of backoffs an unlucky membership meets).
    for seed in SEEDS:
        result = Storm(at_random(share, seed), 100, 0.02, seed=seed)
        outcome = result.run()
        assert outcome.failed == 0
        assert outcome.elapsed <= bound
        assert result.controller.rate is None
        assert outcome.throttled_share == pytest.approx(share, abs=0.1)


def test_random_refusals_of_a_thousand_memberships_stay_unpaced() -> None:
    base = storm(never, 1000, 0.02)
    for seed in SEEDS[:3]:
        result = Storm(at_random(0.3, seed), 1000, 0.02, seed=seed)
        outcome = result.run()
        assert outcome.elapsed <= 2 * base.elapsed / 0.7 + 2.0  # plus the backoffs of the unluckiest calls
        assert result.controller.rate is None and result.controller.tolerated == 0.0


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
