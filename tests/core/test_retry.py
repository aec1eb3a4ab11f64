"""The retry policy: classification, full-jitter backoff, attempts and deadline, with injected clock and sleep."""

from __future__ import annotations

import random

import pytest

from reconciler.core.api import AwsError
from reconciler.core.retry import READ_RETRIES, Retrier, Retry, RetryPolicy, classify


def error(code: str, status: int | None, reason: str | None = None) -> AwsError:
    return AwsError("UpdateMembership", "m", code, "msg", status=status, reason=reason, request_id="r")


@pytest.mark.parametrize(
    ("err", "kind"),
    [
        (error("ThrottlingException", 429), Retry.THROTTLED),
        (error("ConflictException", 409), Retry.CONFLICT),
        (error("ConflictException", 409, "INVALID_STATE"), Retry.CONFLICT),
        (error("ConflictException", 409, "ALREADY_EXISTS"), Retry.NEVER),
        (error("ConflictException", 409, "SUBRESOURCES_EXIST"), Retry.NEVER),
        (error("ValidationException", 400, "IAM_SYNCHRONIZATION_DELAY"), Retry.IAM_DELAY),
        (error("ValidationException", 400, "FIELD_VALIDATION_FAILED"), Retry.NEVER),
        (error("AccessDeniedException", 403), Retry.NEVER),
        (error("ResourceNotFoundException", 404), Retry.NEVER),
        (error("InternalServerException", 500), Retry.TRANSIENT),
        (error("ReadTimeoutError", None), Retry.TRANSIENT),
        (error("NoCredentialsError", 0), Retry.NEVER),
    ],
)
def test_classification(err: AwsError, kind: Retry) -> None:
    assert classify(err) is kind


def test_outcome_is_unknown_only_when_the_request_may_have_landed() -> None:
    assert error("InternalServerException", 500).outcome_unknown
    assert error("ReadTimeoutError", None).outcome_unknown
    assert not error("ThrottlingException", 429).outcome_unknown
    assert not error("NoCredentialsError", 0).outcome_unknown


def test_full_jitter_stays_within_the_capped_exponential() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(7)
    for attempt, cap in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 4.0)]:
        delays = [policy.backoff(attempt, rng) for _ in range(500)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.9  # full jitter spans the whole range, not just its top


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_call_retries_up_to_max_attempts_then_raises() -> None:
    clock = FakeClock()
    calls: list[int] = []
    retried: list[tuple[Retry, int | None]] = []

    def always_failing() -> None:
        calls.append(1)
        raise error("InternalServerException", 500)

    retrier = Retrier(
        RetryPolicy(max_attempts=4),
        clock.sleep,
        clock,
        random.Random(1),
        lambda e, kind, attempt, delay: retried.append((kind, attempt)),
    )
    with pytest.raises(AwsError):
        retrier.call(always_failing, READ_RETRIES)
    assert len(calls) == 4
    assert retried == [(Retry.TRANSIENT, 2), (Retry.TRANSIENT, 3), (Retry.TRANSIENT, 4)]
    assert len(clock.sleeps) == 3


def test_throttling_spends_time_not_attempts_and_its_backoff_stays_short() -> None:
    clock = FakeClock()
    answers: list[object] = [error("ThrottlingException", 429)] * 12 + [error("InternalServerException", 500), "ok"]
    retried: list[int | None] = []

    def flaky() -> object:
        answer = answers.pop(0)
        if isinstance(answer, AwsError):
            raise answer
        return answer

    policy = RetryPolicy(max_attempts=2, base_delay=1.0, max_delay=20.0)
    retrier = Retrier(policy, clock.sleep, clock, random.Random(5), lambda e, k, attempt, d: retried.append(attempt))
    assert retrier.call(flaky, READ_RETRIES) == "ok"
    assert retried == [None] * 12 + [2]
    # From a fiftieth of the base, doubling per throttle in a row, never past the base: the pace is the
    # controller's, the backoff only spreads resends.
    bounds = [0.02, 0.04, 0.08, 0.16, 0.32, 0.64] + [1.0] * 6
    assert all(0 <= sleep <= bound for sleep, bound in zip(clock.sleeps[:12], bounds, strict=True))
    assert max(clock.sleeps[:12]) > 0.5  # the later ones do grow


def test_refusals_the_rate_controller_found_at_random_are_resent_without_a_growing_backoff() -> None:
    # A service shedding 60% of calls at random refuses one call ten times in a row now and then: waiting
    # longer each time made the last few memberships of a run take seconds (the ideal retries at once).
    clock = FakeClock()
    answers: list[object] = [error("ThrottlingException", 429) for _ in range(10)] + ["ok"]

    def shed() -> object:
        answer = answers.pop(0)
        if isinstance(answer, AwsError):
            answer.at_random = True  # as the rate controller marks it
            raise answer
        return answer

    retrier = Retrier(RetryPolicy(base_delay=1.0), clock.sleep, clock, random.Random(5))
    assert retrier.call(shed, READ_RETRIES) == "ok"
    assert len(clock.sleeps) == 10 and all(0 <= sleep <= 0.02 for sleep in clock.sleeps)


def test_endless_throttling_ends_at_the_deadline() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def always_throttled() -> None:
        calls.append(1)
        raise error("ThrottlingException", 429)

    policy = RetryPolicy(max_attempts=2, base_delay=1.0, deadline=30)
    with pytest.raises(AwsError, match="ThrottlingException"):
        Retrier(policy, clock.sleep, clock, random.Random(2)).call(always_throttled, READ_RETRIES)
    assert clock.now <= 30 and len(calls) > 2


def test_call_does_not_retry_what_it_was_not_asked_to() -> None:
    calls: list[int] = []

    def conflict() -> None:
        calls.append(1)
        raise error("ConflictException", 409)

    with pytest.raises(AwsError):
        Retrier(sleep=lambda _: None).call(conflict, READ_RETRIES)
    assert calls == [1]


def test_deadline_stops_retrying_before_attempts_run_out() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise error("InternalServerException", 500)

    policy = RetryPolicy(max_attempts=100, base_delay=10, max_delay=10, deadline=25)
    with pytest.raises(AwsError):
        Retrier(policy, clock.sleep, clock, random.Random(3)).call(failing, READ_RETRIES)
    assert clock.now <= 25
    assert 1 < len(calls) < 100


def test_call_returns_once_a_retry_succeeds() -> None:
    answers: list[object] = [error("InternalServerException", 500), "ok"]

    def flaky() -> object:
        answer = answers.pop(0)
        if isinstance(answer, AwsError):
            raise answer
        return answer

    assert Retrier(sleep=lambda _: None).call(flaky, READ_RETRIES) == "ok"


def test_a_deadline_that_runs_out_on_retries_reports_the_error_retried() -> None:
    # The edge refuses to send a call with no time left (RetryDeadline); the reason it ran out is the
    # throttling before it, and that is what the call reports.
    clock = FakeClock()
    out_of_time = AwsError("GetMembership", "m-1", "RetryDeadline", "no time left", 0)
    answers = [error("ThrottlingException", 429), out_of_time]

    def call() -> None:
        raise answers.pop(0)

    with pytest.raises(AwsError) as caught:
        Retrier(RetryPolicy(), clock.sleep, clock, random.Random(1)).call(call, READ_RETRIES)
    assert caught.value.code == "ThrottlingException" and answers == []

    def first_try_out_of_time() -> None:
        raise out_of_time

    with pytest.raises(AwsError, match="RetryDeadline"):  # nothing retried before it: itself
        Retrier(RetryPolicy(), clock.sleep, clock).call(first_try_out_of_time, READ_RETRIES)
