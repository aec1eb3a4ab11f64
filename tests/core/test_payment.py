"""Payment responsibilities and the job result format: diffed by managed sub-key, sent so unmanaged sub-keys
keep their live value, checked against the creator's designation before any write; ListMembers once per
collaboration, and only when a file manages payment."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.core.desired import DesiredFile
from reconciler.core.models import DesiredMembership, LiveMembership
from reconciler.core.plan import PlanError
from reconciler.core.planner import ResolvedFile, diff, plan_one, remaining
from reconciler.core.retry import Retrier, RetryPolicy
from reconciler.usecases.reader import read_live, with_designations

from ..fakes import ACCOUNT, FakeGateway

MID = "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21"
ROLE = "arn:aws:iam::111122223333:role/CleanRoomsJobResults"
PAYS_QUERIES = {"queryCompute": {"isResponsible": True}}


def target(membership_id: str = MID, **settings: Any) -> ResolvedFile:
    membership = DesiredMembership.model_validate({"membershipIdentifier": membership_id, **settings})
    return ResolvedFile(DesiredFile(f"d/{membership_id}.yaml", membership, "0" * 64), "us-east-1")


def live(designated: dict[str, Any] | None = None, **settings: Any) -> LiveMembership:
    return LiveMembership(
        MID,
        f"arn:aws:cleanrooms:us-east-1:{ACCOUNT}:membership/{MID}",
        "us-east-1",
        "acme",
        "ACTIVE",
        ("CAN_QUERY",),
        settings,
        "collab-acme",
        designated,
    )


def test_only_managed_sub_keys_are_compared_and_the_rest_is_sent_as_it_is() -> None:
    now = {"queryCompute": {"isResponsible": True}, "jobCompute": {"isResponsible": False}}
    managed = {"jobCompute": {"isResponsible": True}}
    designated = {"queryCompute": {"isResponsible": True}, "jobCompute": {"isResponsible": True}}
    change = diff(target(membershipPaymentConfiguration=managed), live(designated, membershipPaymentConfiguration=now))
    [field] = change.fields
    assert field.after == {"queryCompute": {"isResponsible": True}, "jobCompute": {"isResponsible": True}}
    assert field.managed == managed
    same = diff(
        target(membershipPaymentConfiguration={"queryCompute": {"isResponsible": True}}),
        live(None, membershipPaymentConfiguration=now),
    )
    assert same.fields == ()


def test_a_write_after_a_fresh_read_keeps_a_sub_key_someone_changed_meanwhile() -> None:
    planned_from = {"queryCompute": {"isResponsible": True}}
    change = diff(
        target(membershipPaymentConfiguration={"jobCompute": {"isResponsible": True}}),
        live(None, membershipPaymentConfiguration=planned_from),
    )
    meanwhile = {"queryCompute": {"isResponsible": True}, "machineLearning": {"modelTraining": {"isResponsible": True}}}
    assert remaining(change, live(None, membershipPaymentConfiguration=meanwhile)) == {
        "membershipPaymentConfiguration": {**meanwhile, "jobCompute": {"isResponsible": True}}
    }
    done = {**meanwhile, "jobCompute": {"isResponsible": True}}
    assert remaining(change, live(None, membershipPaymentConfiguration=done)) == {}


def test_an_is_responsible_that_contradicts_the_designation_is_a_plan_error_naming_who_decides() -> None:
    planned = plan_one(
        target(
            membershipPaymentConfiguration={
                "queryCompute": {"isResponsible": False},
                "jobCompute": {"isResponsible": True},
            }
        ),
        live(PAYS_QUERIES, membershipPaymentConfiguration=PAYS_QUERIES),
    )
    assert isinstance(planned, list)
    assert [e.message for e in planned] == [
        "membershipPaymentConfiguration.queryCompute.isResponsible is false, but the collaboration's creator "
        f"designated this member (account {ACCOUNT}) to pay for query compute: the creator designates payers, a "
        "member can only accept that, and changing the payer is a change request to the collaboration that its "
        "members approve",
        "membershipPaymentConfiguration.jobCompute.isResponsible is true, but the collaboration's creator did not "
        f"designate this member (account {ACCOUNT}) to pay for job compute: the creator designates payers, a "
        "member can only accept that, and changing the payer is a change request to the collaboration that its "
        "members approve",
    ]


def test_a_missing_job_result_format_equals_a_live_csv_or_none() -> None:
    job = {"roleArn": ROLE, "outputConfiguration": {"s3": {"bucket": "jobs"}}}
    csv = {"roleArn": ROLE, "outputConfiguration": {"s3": {"bucket": "jobs", "resultFormat": "CSV"}}}
    parquet = {"roleArn": ROLE, "outputConfiguration": {"s3": {"bucket": "jobs", "resultFormat": "PARQUET"}}}
    assert diff(target(defaultJobResultConfiguration=job), live(None, defaultJobResultConfiguration=csv)).fields == ()
    assert diff(target(defaultJobResultConfiguration=csv), live(None, defaultJobResultConfiguration=job)).fields == ()
    [field] = diff(target(defaultJobResultConfiguration=parquet), live(None, defaultJobResultConfiguration=job)).fields
    assert [(leaf.path, leaf.before, leaf.after) for leaf in field.leaves] == [
        ("outputConfiguration.s3.resultFormat", "CSV", "PARQUET")
    ]


def test_list_members_is_called_once_per_collaboration_and_only_for_managed_payment() -> None:
    gateway = FakeGateway()
    a = gateway.add(collaboration="one", paymentConfiguration=PAYS_QUERIES)
    b = gateway.add(collaboration="one", paymentConfiguration=PAYS_QUERIES)
    c = gateway.add(collaboration="two", paymentConfiguration=PAYS_QUERIES)
    d = gateway.add(collaboration="three", paymentConfiguration=PAYS_QUERIES)
    gateway.designations[("collab-one", ACCOUNT)] = PAYS_QUERIES
    pays = {"membershipPaymentConfiguration": {"queryCompute": {"isResponsible": True}}}
    targets = [target(a, **pays), target(b, **pays), target(c, **pays), target(d, queryLogStatus="ENABLED")]
    retrier = Retrier(RetryPolicy(), sleep=lambda _: None)
    read = with_designations(gateway, retrier, targets, read_live(gateway, targets, retrier, 4), 4)
    assert sorted(str(mid) for op, mid, _ in gateway.calls if op == "ListMembers") == ["collab-one", "collab-two"]
    assert [read[m].designatedPayment for m in (a, b, c)] == [PAYS_QUERIES, PAYS_QUERIES, {}]  # type: ignore[union-attr]
    assert read[d].designatedPayment is None  # type: ignore[union-attr]


def test_a_collaboration_whose_members_cannot_be_read_is_a_plan_error() -> None:
    from ..fakes import server_error

    gateway = FakeGateway()
    a = gateway.add(collaboration="one")
    gateway.then("ListMembers", *[server_error("ListMembers")] * 5)
    targets = [target(a, membershipPaymentConfiguration={"queryCompute": {"isResponsible": True}})]
    retrier = Retrier(RetryPolicy(base_delay=0), sleep=lambda _: None)
    read = with_designations(gateway, retrier, targets, read_live(gateway, targets, retrier, 1), 1)
    error = read[a]
    assert isinstance(error, PlanError)
    assert error.message.startswith(
        "cannot read who pays in collaboration collab-one: ListMembers: InternalServerException"
    )
    assert replace(error, message="") == PlanError(a, f"d/{a}.yaml", "", "InternalServerException")
