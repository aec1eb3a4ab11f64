"""The breaker stops starting calls after a run of calls with no answer; answers of any kind reset it."""

from __future__ import annotations

import pytest

from reconciler.core.api import AwsError, Where
from reconciler.core.errors import EndpointUnavailable
from reconciler.edges.aws.breaker import Breaker

from ..fakes import FakeGateway, server_error

HERE = Where("us-east-1")


def silent() -> AwsError:
    return AwsError("GetMembership", None, "ReadTimeoutError", 'Read timeout on endpoint URL: "http://x"', None)


def test_three_calls_without_an_answer_open_it_and_no_call_is_started_after() -> None:
    inner = FakeGateway()
    mid = inner.add()
    inner.then("GetMembership", silent(), silent(), silent())
    breaker = Breaker(inner)
    for _ in range(2):
        with pytest.raises(AwsError):
            breaker.get_membership(HERE, mid)
    with pytest.raises(EndpointUnavailable, match=r"did not answer 3 calls in a row \(ReadTimeoutError: Read"):
        breaker.get_membership(HERE, mid)
    with pytest.raises(EndpointUnavailable):
        breaker.update_membership(HERE, mid, {"queryLogStatus": "ENABLED"})
    assert inner.operations() == ["GetMembership"] * 3


def test_an_answer_in_between_resets_it_even_an_error_answer_does_not_count() -> None:
    inner = FakeGateway()
    mid = inner.add()
    inner.then("GetMembership", silent(), silent(), None, silent(), silent(), server_error("GetMembership"))
    breaker = Breaker(inner)
    for _ in range(2):
        with pytest.raises(AwsError):
            breaker.get_membership(HERE, mid)
    assert breaker.get_membership(HERE, mid)["id"] == mid
    for _ in range(3):
        with pytest.raises(AwsError) as caught:
            breaker.get_membership(HERE, mid)
        assert not isinstance(caught.value, EndpointUnavailable)
