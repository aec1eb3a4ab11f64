"""A join's plan, its request, and a saved join checked like any saved plan: pure, no AWS."""

from __future__ import annotations

import json
from typing import Any

from reconciler.core import saved
from reconciler.core.desired import DesiredFile
from reconciler.core.invitation import Invitation
from reconciler.core.joining import create_request, plan_join
from reconciler.core.models import DesiredMembership, LiveMembership
from reconciler.core.plan import MembershipChange, Plan, PlanError
from reconciler.core.planner import ResolvedFile, plan_one

COLLABORATION = "0b7e4c1a-1111-4222-8333-444455556666"
ACCOUNT = "111122223333"
INVITATION = Invitation(COLLABORATION, "retail", "999988887777", "Globex", "us-east-1", ACCOUNT, "2026-12-01")


def joining(**settings: Any) -> DesiredFile:
    membership = DesiredMembership.model_validate(
        {"collaborationIdentifier": COLLABORATION, "accountId": ACCOUNT, **settings}
    )
    return DesiredFile("d/join.yaml", membership, "0" * 64)


def test_a_join_plans_every_setting_as_new_and_fills_the_query_payment_create_requires() -> None:
    file = joining(
        queryLogStatus="ENABLED",
        membershipPaymentConfiguration={"jobCompute": {"isResponsible": True}},
        isMetricsEnabled=False,
        tags={"team": "data"},
    )
    change = plan_join(file, "us-east-1", INVITATION, {"jobCompute": {"isResponsible": True}})
    assert isinstance(change, MembershipChange)
    assert (change.membershipIdentifier, change.key, change.changed) == ("", f"collaboration:{COLLABORATION}", True)
    assert [(f.name, f.before) for f in change.fields] == [
        ("queryLogStatus", None),
        ("membershipPaymentConfiguration", None),
        ("tags", None),
        ("isMetricsEnabled", None),
    ]
    assert create_request(change) == {
        "collaborationIdentifier": COLLABORATION,
        "queryLogStatus": "ENABLED",
        "paymentConfiguration": {"queryCompute": {"isResponsible": False}, "jobCompute": {"isResponsible": True}},
        "tags": {"team": "data"},
        "isMetricsEnabled": False,
    }


def test_a_join_that_contradicts_the_designation_is_a_plan_error_naming_the_file() -> None:
    file = joining(queryLogStatus="ENABLED", membershipPaymentConfiguration={"queryCompute": {"isResponsible": True}})
    errors = plan_join(file, "us-east-1", INVITATION, {})
    assert isinstance(errors, list)
    [error] = errors
    assert (error.source, error.membershipIdentifier, error.code) == (
        "d/join.yaml",
        f"collaboration:{COLLABORATION}",
        "JoinCheck",
    )
    assert "isResponsible is true, but the collaboration's creator did not designate this member" in error.message


def test_is_metrics_enabled_on_an_existing_membership_is_checked_never_changed() -> None:
    mid = "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21"
    membership = DesiredMembership.model_validate({"membershipIdentifier": mid, "isMetricsEnabled": True})
    target = ResolvedFile(DesiredFile("d/a.yaml", membership, "0" * 64), "us-east-1")
    arn = f"arn:aws:cleanrooms:us-east-1:{ACCOUNT}:membership/{mid}"
    live = LiveMembership(mid, arn, "us-east-1", "acme", "ACTIVE", (), {}, metricsEnabled=False)
    [error] = plan_one(target, live)  # type: ignore[misc]
    assert isinstance(error, PlanError)
    assert error.message == (
        "isMetricsEnabled is true but the membership has false: it is settable only when joining "
        "(CreateMembership), and UpdateMembership cannot change it"
    )
    same = LiveMembership(mid, arn, "us-east-1", "acme", "ACTIVE", (), {}, metricsEnabled=True)
    assert isinstance(plan_one(target, same), MembershipChange)


def saved_join(**edits: Any) -> dict[str, Any]:
    change = plan_join(joining(queryLogStatus="ENABLED"), "us-east-1", INVITATION, {})
    assert isinstance(change, MembershipChange)
    data = Plan.build([change]).to_json()
    data["changes"][0] |= edits
    return data


def test_a_saved_join_round_trips_and_its_hash_covers_the_collaboration() -> None:
    data = saved_join()
    plan, problems = saved.parse(json.dumps(data))
    assert problems == [] and plan is not None
    [change] = plan.changes
    assert change.join == INVITATION
    elsewhere = dict(data["changes"][0]["join"], collaborationIdentifier="0b7e4c1a-9999-4222-8333-444455556666")
    plan, problems = saved.parse(json.dumps(saved_join(join=elsewhere) | {"changesHash": data["changesHash"]}))
    assert plan is None and problems == [
        f"changesHash: {data['changesHash']} is not the hash of the changes listed (the plan was edited)"
    ]


def test_a_saved_join_that_is_not_a_join_everywhere_is_refused() -> None:
    data = saved_join(
        membershipIdentifier="3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21",
        liveSettings={"queryLogStatus": "DISABLED"},
    )
    data["changes"][0]["fields"]["queryLogStatus"]["before"] = "DISABLED"
    del data["changesHash"]
    plan, problems = saved.parse(json.dumps(data))
    assert plan is None
    assert problems[:3] == [
        "changes[0].membershipIdentifier: a join has no membership yet: must be empty",
        "changes[0].liveSettings: a join is planned from no membership: must be empty",
        "changes[0].fields.queryLogStatus.before: a join creates the membership: must be absent",
    ]
    without_join = saved_join()
    del without_join["changes"][0]["join"], without_join["changesHash"]
    plan, problems = saved.parse(json.dumps(without_join))
    assert plan is None and "changes[0].membershipIdentifier: empty only in a join" in problems
