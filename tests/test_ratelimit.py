"""The adaptive rate limiter and the gateway wrapper that feeds it, with an injected clock and sleep."""

from __future__ import annotations

import pytest

from reconciler.api import Where
from reconciler.ratelimit import AimdLimiter, LimitedGateway

from .fakes import FakeGateway, throttled
from .test_retry import FakeClock


def test_limiter_does_not_pace_until_throttled() -> None:
    clock = FakeClock()
    limiter = AimdLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(100):
        limiter.acquire()
    assert clock.sleeps == []
    assert limiter.rate is None


def test_limiter_halves_on_throttle_once_per_burst_and_grows_back() -> None:
    clock = FakeClock()
    limiter = AimdLimiter(clock=clock, sleep=clock.sleep, increase_per_second=5, decrease_factor=0.5)
    for _ in range(40):
        clock.now += 0.025  # 40 calls/s
        limiter.acquire()
    limiter.throttled()
    limiter.throttled()  # a second 429 from the same burst does not cut again
    assert limiter.rate == pytest.approx(20, rel=0.1)
    assert limiter.throttles == 2
    start = clock.now
    for _ in range(20):
        limiter.acquire()
    # Paced: twenty calls at about 20/s (growing meanwhile) take most of a second.
    assert 0.7 < clock.now - start < 1.0
    assert limiter.rate is not None and limiter.rate > 20


def test_a_429_from_reads_and_writes_reaches_the_limiter_of_its_account_and_region() -> None:
    inner = FakeGateway()
    mid = inner.add(queryLogStatus="DISABLED")
    here, there = Where("us-east-1"), Where("eu-west-1", "444455556666")
    gateway = LimitedGateway(inner, lambda: AimdLimiter(sleep=lambda _: None))
    inner.then("GetMembership", throttled("GetMembership", mid))
    inner.then("UpdateMembership", throttled("UpdateMembership", mid))
    for call in (lambda: gateway.get_membership(here, mid), lambda: gateway.update_membership(here, mid, {})):
        with pytest.raises(Exception, match="ThrottlingException"):
            call()
    assert gateway.limiter(here).throttles == 2
    assert gateway.limiter(there).throttles == 0
    assert gateway.limiter(here).rate is not None and gateway.limiter(there).rate is None


def test_a_429_while_paging_reaches_the_limiter() -> None:
    inner = FakeGateway()
    inner.add()
    where = Where("us-east-1")
    gateway = LimitedGateway(inner, lambda: AimdLimiter(sleep=lambda _: None))
    inner.then("ListMemberships", throttled("ListMemberships"))
    with pytest.raises(Exception, match="ThrottlingException"):
        list(gateway.list_memberships(where))
    assert gateway.limiter(where).throttles == 1
