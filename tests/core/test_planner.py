"""The pure diff: only managed fields, defaults normalised, leaves reported, checks before any write."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core import saved
from reconciler.core.desired import DesiredFile
from reconciler.core.models import SETTABLE_FIELDS, DesiredMembership, LiveMembership
from reconciler.core.plan import LeafChange, Plan, PlanError, normalize
from reconciler.core.planner import ResolvedFile, build_plan, diff, plan_one, resolve_regions

MID = "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21"
ROLE = "arn:aws:iam::111122223333:role/CleanRoomsQueryResults"


def target(**settings: Any) -> ResolvedFile:
    membership = DesiredMembership.model_validate({"membershipIdentifier": MID, **settings})
    return ResolvedFile(DesiredFile("desired-state/a.yaml", membership, "0" * 64), "us-east-1")


def live(
    status: str = "ACTIVE", abilities: tuple[str, ...] = ("CAN_QUERY", "CAN_RECEIVE_RESULTS"), **settings: Any
) -> LiveMembership:
    return LiveMembership(
        membershipIdentifier=MID,
        arn=f"arn:aws:cleanrooms:us-east-1:111122223333:membership/{MID}",
        region="us-east-1",
        collaborationName="acme",
        status=status,
        memberAbilities=abilities,
        settings=settings,
    )


def s3_config(bucket: str = "bucket-a", **extra: Any) -> dict[str, Any]:
    return {"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": bucket, **extra}}}


def test_unmanaged_fields_are_never_compared() -> None:
    change = diff(target(queryLogStatus="ENABLED"), live(queryLogStatus="ENABLED", jobLogStatus="DISABLED"))
    assert change.fields == ()
    assert change.body() == {}


def test_a_changed_scalar_is_a_field_change_with_before_and_after() -> None:
    change = diff(
        target(queryLogStatus="ENABLED", jobLogStatus="ENABLED"),
        live(queryLogStatus="DISABLED", jobLogStatus="ENABLED"),
    )
    assert [(f.name, f.before, f.after) for f in change.fields] == [("queryLogStatus", "DISABLED", "ENABLED")]
    assert change.body() == {"queryLogStatus": "ENABLED"}


def test_api_defaults_are_not_drift() -> None:
    desired = target(
        defaultResultConfiguration=s3_config(),
        defaultJobResultConfiguration={"roleArn": ROLE, "outputConfiguration": {"s3": {"bucket": "jobs"}}},
    )
    current = live(
        defaultResultConfiguration=s3_config(keyPrefix="", singleFileOutput=False),
        defaultJobResultConfiguration={
            "roleArn": ROLE,
            "outputConfiguration": {"s3": {"bucket": "jobs", "keyPrefix": ""}},
        },
    )
    assert diff(desired, current).fields == ()


def test_a_nested_leaf_change_sends_the_whole_field_and_names_the_leaf() -> None:
    desired = target(defaultResultConfiguration=s3_config("bucket-b", keyPrefix="p/"))
    change = diff(desired, live(defaultResultConfiguration={**s3_config("bucket-a"), "roleArn": ROLE}))
    [field] = change.fields
    assert field.name == "defaultResultConfiguration"
    assert field.after == s3_config("bucket-b", keyPrefix="p/")
    assert change.body() == {"defaultResultConfiguration": s3_config("bucket-b", keyPrefix="p/")}
    assert field.leaves == (
        LeafChange("outputConfiguration.s3.bucket", "bucket-a", "bucket-b", "changed"),
        LeafChange("outputConfiguration.s3.keyPrefix", "", "p/", "changed"),
        LeafChange("roleArn", ROLE, None, "removed"),
    )


def test_a_configuration_absent_live_is_a_whole_addition() -> None:
    [field] = diff(target(defaultResultConfiguration=s3_config()), live()).fields
    assert (field.before, field.after, field.leaves) == (None, s3_config(), ())


def test_normalize_leaves_other_fields_alone() -> None:
    assert normalize("queryLogStatus", "ENABLED") == "ENABLED"
    assert normalize("defaultResultConfiguration", None) is None
    assert normalize("defaultJobResultConfiguration", {"outputConfiguration": {"s3": {"bucket": "b"}}}) == {
        "outputConfiguration": {"s3": {"keyPrefix": "", "resultFormat": "CSV", "bucket": "b"}}
    }


def test_checks_name_every_problem() -> None:
    desired = target(accountId="999999999999", collaborationName="other", defaultResultConfiguration=s3_config())
    result = plan_one(desired, live(status="REMOVED", abilities=("CAN_QUERY",)))
    assert isinstance(result, list)
    messages = [e.message for e in result]
    assert messages[0] == "status is REMOVED; only an ACTIVE membership can be updated"
    assert messages[1] == "accountId guard is 999999999999 but the membership is in account 111122223333"
    assert messages[2] == "collaborationName guard is 'other' but the membership belongs to 'acme'"
    assert "cannot receive results (abilities: CAN_QUERY)" in messages[3]
    assert all(e.source == "desired-state/a.yaml" and e.membershipIdentifier == MID for e in result)


def test_matching_guards_pass() -> None:
    result = plan_one(target(accountId="111122223333", collaborationName="acme"), live())
    assert not isinstance(result, list)
    assert result.fields == ()


def test_plan_orders_changes_and_counts_errors_per_membership() -> None:
    first = target(queryLogStatus="ENABLED")
    plan = build_plan([first], {MID: live(queryLogStatus="DISABLED")})
    assert plan.summary() == {"memberships": 1, "toChange": 1, "unchanged": 0}
    errored = Plan.build([], [PlanError("x", "b.yaml", "one"), PlanError("x", "b.yaml", "two")])
    assert errored.summary() == {"memberships": 1, "toChange": 0, "unchanged": 0}


def test_a_file_without_region_needs_a_default() -> None:
    targets, errors = resolve_regions([target().file], None)
    assert targets == []
    assert "no region" in errors[0].message
    targets, errors = resolve_regions([target().file, target(region="eu-west-1").file], "us-east-2")
    assert [t.region for t in targets] == ["us-east-2", "eu-west-1"]
    assert errors == []


def test_saved_plan_round_trips_through_json() -> None:
    plan = build_plan(
        [target(defaultResultConfiguration=s3_config("bucket-b"))], {MID: live(defaultResultConfiguration=s3_config())}
    )
    # Read back as apply --plan reads it: every key checked, the nested leaves derived again.
    loaded, problems = saved.parse(plan.dumps())
    assert problems == [] and loaded is not None
    assert loaded.changes == plan.changes
    assert loaded.changes[0].fields[0].leaves[0].path == "outputConfiguration.s3.bucket"


# -- properties --------------------------------------------------------------------------------------

statuses = st.sampled_from(["ENABLED", "DISABLED"])
buckets = st.sampled_from(["bucket-a", "bucket-b"])
prefixes = st.sampled_from(["", "p/", "q/"])
maybe = st.booleans()


@st.composite
def query_configs(draw: st.DrawFn, for_live: bool) -> dict[str, Any]:
    s3: dict[str, Any] = {"resultFormat": draw(st.sampled_from(["CSV", "PARQUET"])), "bucket": draw(buckets)}
    if draw(maybe) or for_live:
        s3["keyPrefix"] = draw(prefixes)
    if draw(maybe) or for_live:
        s3["singleFileOutput"] = draw(st.booleans())
    config: dict[str, Any] = {"outputConfiguration": {"s3": s3}}
    if draw(maybe):
        config["roleArn"] = ROLE
    return config


@st.composite
def job_configs(draw: st.DrawFn, for_live: bool) -> dict[str, Any]:
    s3: dict[str, Any] = {"bucket": draw(buckets)}
    if draw(maybe) or for_live:
        s3["keyPrefix"] = draw(prefixes)
    return {"roleArn": ROLE, "outputConfiguration": {"s3": s3}}


def settings_strategy(for_live: bool) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "queryLogStatus": statuses,
            "jobLogStatus": statuses,
            "defaultResultConfiguration": query_configs(for_live),
            "defaultJobResultConfiguration": job_configs(for_live),
        },
    )


@settings(max_examples=300, deadline=None)
@given(settings_strategy(for_live=False), settings_strategy(for_live=True))
def test_applying_the_plan_converges_and_touches_only_managed_fields(
    desired: dict[str, Any], current: dict[str, Any]
) -> None:
    change = diff(target(**desired), live(**current))
    assert {f.name for f in change.fields} <= set(desired)
    # PATCH semantics: the body's fields replace the live ones whole; everything else stays.
    after_apply = current | change.body()
    assert diff(target(**desired), live(**after_apply)).fields == ()
    for name in SETTABLE_FIELDS:
        if name not in desired:
            assert after_apply.get(name) == current.get(name)


def test_tags_are_one_field_compared_as_a_whole_set_without_aws_keys() -> None:
    read = live(queryLogStatus="ENABLED").with_tags({"a": "1", "b": "2", "aws:cloudformation:stack-id": "s"})
    change = diff(target(tags={"a": "1", "c": "3"}), read)
    [field] = change.fields
    assert (field.name, field.before, field.after) == ("tags", {"a": "1", "b": "2"}, {"a": "1", "c": "3"})
    assert [(leaf.kind, leaf.path) for leaf in field.leaves] == [("removed", "b"), ("added", "c")]
    assert change.liveSettings == {"tags": {"a": "1", "b": "2"}}
    assert diff(target(tags={"b": "2", "a": "1"}), read).fields == ()
    assert diff(target(queryLogStatus="ENABLED"), read).liveSettings == {"queryLogStatus": "ENABLED"}


def test_a_saved_plan_cannot_send_a_reserved_or_overlong_tag() -> None:
    change = diff(target(tags={"a": "1"}), live().with_tags({}))
    data = Plan.build([change]).to_json()
    data["changes"][0]["fields"]["tags"]["after"] = {"aws:owner": "x", "k" * 129: "v"}
    del data["changesHash"]
    plan, problems = saved.parse(__import__("json").dumps(data))
    assert plan is None
    assert any("changes[0].fields.tags.after.aws:owner" in p and "AWS's own" in p for p in problems), problems
    assert any("at most 128 characters" in p for p in problems), problems
