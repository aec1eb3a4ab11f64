"""The applier's rules, against the in-memory gateway: what is sent, when it is resent, when it reads first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.desired import DesiredFile
from reconciler.core.models import DesiredMembership, LiveMembership
from reconciler.core.outcome import Outcome, Status
from reconciler.core.plan import MembershipChange
from reconciler.core.planner import ResolvedFile, diff
from reconciler.core.retry import Retrier, RetryPolicy
from reconciler.usecases.applier import Applier

from ..fakes import FakeGateway, Scripted, conflict, invalid, server_error, throttled
from ..helpers import job_results, query_results


def change_for(gateway: FakeGateway, membership_id: str, **desired: Any) -> MembershipChange:
    membership = DesiredMembership.model_validate({"membershipIdentifier": membership_id, **desired})
    resolved = ResolvedFile(DesiredFile("d/a.yaml", membership, "0" * 64), "us-east-1")
    live = LiveMembership.from_api(dict(gateway.memberships[membership_id]), "us-east-1")
    return diff(resolved, live)


def applier(
    gateway: FakeGateway, *, max_attempts: int = 5, strict: bool = False, audit: list[Mapping[str, Any]] | None = None
) -> Applier:
    retrier = Retrier(RetryPolicy(max_attempts=max_attempts), sleep=lambda _: None)
    return Applier(gateway, retrier, None if audit is None else audit.append, strict=strict)


def apply_one(gateway: FakeGateway, change: MembershipChange, **options: Any) -> Outcome:
    return applier(gateway, **options).apply_one(change)


def test_only_the_changed_top_level_fields_are_sent_nested_objects_whole() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="ENABLED", defaultResultConfiguration=query_results("old"))
    change = change_for(gateway, mid, queryLogStatus="ENABLED", defaultResultConfiguration=query_results("new"))
    outcome = apply_one(gateway, change)
    assert (outcome.status, outcome.sent, outcome.attempts) == (Status.APPLIED, ("defaultResultConfiguration",), 1)
    assert gateway.writes() == [{"defaultResultConfiguration": query_results("new")}]


def test_throttling_resends_the_same_body_without_reading() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED")
    gateway.then("UpdateMembership", throttled(), throttled())
    outcome = apply_one(gateway, change_for(gateway, mid, queryLogStatus="ENABLED"))
    assert outcome.status is Status.APPLIED and outcome.attempts == 3
    assert gateway.operations() == ["UpdateMembership"] * 3
    assert gateway.writes() == [{"queryLogStatus": "ENABLED"}] * 3


def test_a_conflict_reads_again_and_sends_only_what_still_differs() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED", jobLogStatus="DISABLED")
    change = change_for(gateway, mid, queryLogStatus="ENABLED", jobLogStatus="ENABLED")
    # Someone else turns job logging on (our value) and sets job results (unmanaged), then we get a 409.
    other = {"jobLogStatus": "ENABLED", "defaultJobResultConfiguration": job_results("theirs")}
    gateway.then("UpdateMembership", Scripted(conflict(), concurrent_write=other))
    outcome = apply_one(gateway, change)
    assert outcome.status is Status.APPLIED
    assert gateway.operations() == ["UpdateMembership", "GetMembership", "UpdateMembership"]
    assert gateway.writes() == [{"queryLogStatus": "ENABLED", "jobLogStatus": "ENABLED"}, {"queryLogStatus": "ENABLED"}]
    assert gateway.memberships[mid]["defaultJobResultConfiguration"] == job_results("theirs")


def test_a_conflict_after_which_nothing_differs_is_converged_with_one_write() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED")
    gateway.then("UpdateMembership", Scripted(conflict(), concurrent_write={"queryLogStatus": "ENABLED"}))
    outcome = apply_one(gateway, change_for(gateway, mid, queryLogStatus="ENABLED"))
    assert (outcome.status, outcome.sent, outcome.attempts) == (Status.CONVERGED, (), 1)
    assert gateway.operations() == ["UpdateMembership", "GetMembership"]


def test_permanent_conflict_reasons_and_validation_errors_fail_at_once() -> None:
    for error in (conflict("ALREADY_EXISTS"), invalid()):
        gateway = FakeGateway()
        mid = gateway.add(queryLogStatus="DISABLED")
        gateway.then("UpdateMembership", error)
        outcome = apply_one(gateway, change_for(gateway, mid, queryLogStatus="ENABLED"))
        assert (outcome.status, outcome.attempts, outcome.error) == (Status.FAILED, 1, error)


def test_iam_propagation_delay_is_resent() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED")
    gateway.then("UpdateMembership", invalid("IAM_SYNCHRONIZATION_DELAY"))
    outcome = apply_one(gateway, change_for(gateway, mid, queryLogStatus="ENABLED"))
    assert outcome.status is Status.APPLIED and gateway.operations() == ["UpdateMembership"] * 2


def test_an_error_after_the_write_took_effect_is_confirmed_by_a_read_not_resent() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED")
    gateway.then("UpdateMembership", Scripted(server_error(), after_apply=True))
    audit: list[Mapping[str, Any]] = []
    outcome = applier(gateway, audit=audit).apply_one(change_for(gateway, mid, queryLogStatus="ENABLED"))
    assert outcome.status is Status.APPLIED
    assert outcome.message == "confirmed by a read after an unknown outcome"
    assert gateway.operations() == ["UpdateMembership", "GetMembership"]
    assert [(line["outcome"], line["fields"]) for line in audit] == [
        ("sent", {"queryLogStatus": "ENABLED"}),
        ("InternalServerException", {"queryLogStatus": "ENABLED"}),
        ("confirmed", {"queryLogStatus": "ENABLED"}),
    ]


def test_a_server_error_before_the_write_reads_then_resends() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED")
    gateway.then("UpdateMembership", server_error())
    outcome = apply_one(gateway, change_for(gateway, mid, queryLogStatus="ENABLED"))
    assert outcome.status is Status.APPLIED
    assert gateway.operations() == ["UpdateMembership", "GetMembership", "UpdateMembership"]


def test_attempts_are_bounded_by_the_policy() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED")
    gateway.then("UpdateMembership", *[server_error()] * 10)
    outcome = apply_one(gateway, change_for(gateway, mid, queryLogStatus="ENABLED"), max_attempts=3)
    assert (outcome.status, outcome.attempts) == (Status.FAILED, 3)


def test_throttling_spends_no_attempts() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED")
    gateway.then("UpdateMembership", *[throttled()] * 10)
    outcome = apply_one(gateway, change_for(gateway, mid, queryLogStatus="ENABLED"), max_attempts=3)
    assert (outcome.status, outcome.attempts) == (Status.APPLIED, 11)
    assert gateway.writes() == [{"queryLogStatus": "ENABLED"}] * 11
    assert gateway.memberships[mid]["queryLogStatus"] == "ENABLED"


def test_a_membership_no_longer_active_is_not_written_after_a_re_read() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED")
    gateway.then("UpdateMembership", Scripted(conflict(), concurrent_write={"status": "REMOVED"}))
    outcome = apply_one(gateway, change_for(gateway, mid, queryLogStatus="ENABLED"))
    assert (outcome.status, outcome.message) == (Status.FAILED, "status is now REMOVED")
    assert gateway.operations() == ["UpdateMembership", "GetMembership"]


def test_a_saved_plan_refuses_a_membership_someone_changed_since_planning() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED", jobLogStatus="DISABLED")
    change = change_for(gateway, mid, queryLogStatus="ENABLED", jobLogStatus="DISABLED")
    gateway.memberships[mid]["jobLogStatus"] = "ENABLED"
    problems, live = applier(gateway, strict=True).preflight([change], parallelism=2)
    assert problems == [
        f"d/a.yaml: membership {mid}: the plan is stale: jobLogStatus changed since planning; run plan again"
    ]
    assert live == {}
    assert gateway.writes() == []


def test_a_stop_request_leaves_memberships_not_started() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED")
    made = applier(gateway)
    made.stop.set()
    outcome = made.apply_one(change_for(gateway, mid, queryLogStatus="ENABLED"))
    assert (outcome.status, outcome.attempts) == (Status.NOT_STARTED, 0)
    assert gateway.calls == []


def test_a_returned_result_configuration_that_differs_fails_verification_logging_only_notes_it() -> None:
    other = {"defaultJobResultConfiguration": job_results("e-f")}

    class Lagging(FakeGateway):
        """Answers each write with logging not yet showing and someone else's job results."""

        def update_membership(self, where: Any, membership_id: str, fields: Any, on_send: Any = None) -> Any:
            returned, request_id = super().update_membership(where, membership_id, fields, on_send)
            return {**returned, "queryLogStatus": "DISABLED", **other}, request_id

    lagging = Lagging()
    mid = lagging.add(queryLogStatus="DISABLED", defaultJobResultConfiguration=job_results("a-b"))
    outcome = apply_one(lagging, change_for(lagging, mid, queryLogStatus="ENABLED"))
    assert outcome.status is Status.APPLIED
    assert outcome.message == "queryLogStatus accepted but not showing yet: logging changes take minutes to propagate"
    outcome = apply_one(lagging, change_for(lagging, mid, defaultJobResultConfiguration=job_results("c-d")))
    assert outcome.status is Status.FAILED
    assert outcome.message == (
        "not verified: the service returned other values for defaultJobResultConfiguration after the write"
    )


def test_the_audit_sink_hears_every_attempt_with_its_answer() -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED")
    gateway.then("UpdateMembership", throttled())
    lines: list[Mapping[str, Any]] = []
    applier(gateway, audit=lines).apply_one(change_for(gateway, mid, queryLogStatus="ENABLED"))
    assert [(x["attempt"], x["outcome"], x["fields"]) for x in lines] == [
        (1, "sent", {"queryLogStatus": "ENABLED"}),
        (1, "ThrottlingException", {"queryLogStatus": "ENABLED"}),
        (2, "sent", {"queryLogStatus": "ENABLED"}),
        (2, "ok", {"queryLogStatus": "ENABLED"}),
    ]
    assert lines[3]["requestId"] == "request-2"


def tagged_change(gateway: FakeGateway, live_tags: dict[str, str], **desired: Any) -> tuple[str, MembershipChange]:
    mid = gateway.add(queryLogStatus="DISABLED")
    gateway.tags[mid] = dict(live_tags)
    membership = DesiredMembership.model_validate({"membershipIdentifier": mid, **desired})
    resolved = ResolvedFile(DesiredFile("d/a.yaml", membership, "0" * 64), "us-east-1")
    live = LiveMembership.from_api(dict(gateway.memberships[mid]), "us-east-1").with_tags(live_tags)
    return mid, diff(resolved, live)


def test_a_tag_conflict_reads_the_tags_again_and_removes_one_added_since_planning() -> None:
    gateway = FakeGateway()
    mid, change = tagged_change(gateway, {"a": "1", "aws:x": "y"}, tags={"a": "2"})
    gateway.tags[mid]["intruder"] = "z"  # someone tags it after the plan was made
    gateway.then("TagResource", conflict(membership_id=mid))
    audit: list[Mapping[str, Any]] = []
    outcome = applier(gateway, audit=audit).apply_one(change)
    assert (outcome.status, outcome.sent) == (Status.APPLIED, ("tags",))
    assert gateway.operations() == [
        "TagResource",
        "GetMembership",
        "ListTagsForResource",
        "TagResource",
        "UntagResource",
    ]
    assert gateway.tags[mid] == {"a": "2", "aws:x": "y"}
    assert [(r["operation"], r["outcome"]) for r in audit] == [
        ("TagResource", "sent"),
        ("TagResource", "ConflictException"),
        ("TagResource", "sent"),
        ("TagResource", "ok"),
        ("UntagResource", "sent"),
        ("UntagResource", "ok"),
    ]


def test_an_unknown_tag_outcome_is_read_before_anything_is_resent() -> None:
    gateway = FakeGateway()
    mid, change = tagged_change(gateway, {"gone": "1"}, tags={})
    gateway.then("UntagResource", Scripted(server_error("UntagResource", mid), after_apply=True))
    audit: list[Mapping[str, Any]] = []
    outcome = applier(gateway, audit=audit).apply_one(change)
    assert (outcome.status, outcome.message) == (Status.APPLIED, "confirmed by a read after an unknown outcome")
    assert gateway.operations() == ["UntagResource", "GetMembership", "ListTagsForResource"]
    assert (audit[-1]["operation"], audit[-1]["outcome"], audit[-1]["fields"]) == ("read", "confirmed", {"tags": {}})


def test_a_saved_plans_tags_go_to_the_arn_a_read_finds_never_one_from_the_file() -> None:
    gateway = FakeGateway()
    mid, change = tagged_change(gateway, {}, tags={"team": "data"}, queryLogStatus="ENABLED")
    saved = MembershipChange.from_json(change.to_json())
    assert saved.arn == "" and "arn" not in change.to_json()
    outcome = apply_one(gateway, saved)
    assert outcome.status is Status.APPLIED and outcome.sent == ("queryLogStatus", "tags")
    assert gateway.operations() == ["GetMembership", "ListTagsForResource", "UpdateMembership", "TagResource"]
    assert gateway.tags[mid] == {"team": "data"}
