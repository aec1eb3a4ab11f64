"""The plan's value types: the changes hash (what a reviewer approved) and the JSON round trip."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core import saved
from reconciler.core.api import Where
from reconciler.core.plan import FieldChange, MembershipChange, Plan
from reconciler.core.planner import live_fingerprint

MID = "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21"
OTHER = "00000000-0000-4000-8000-000000000002"
BUCKET = {"outputConfiguration": {"s3": {"bucket": "results", "resultFormat": "CSV"}}}


def change(mid: str = MID, source: str = "d/a.yaml", *fields: FieldChange) -> MembershipChange:
    fields = fields or (FieldChange("queryLogStatus", "DISABLED", "ENABLED"),)
    # As the planner makes it: planned from the live values the fields' before shows.
    planned_from = {f.name: f.before for f in fields}
    return MembershipChange(
        mid, source, "us-east-1", fields, live_fingerprint(planned_from), "0" * 64, "acme", liveSettings=planned_from
    )


def unchanged(mid: str) -> MembershipChange:
    return MembershipChange(mid, "d/u.yaml", "us-east-1", (), "sha256:y", "1" * 64)


def test_the_hash_is_sha256_over_the_changes() -> None:
    digest = Plan.build([change()]).changes_hash()
    assert digest.startswith("sha256:") and len(digest) == 71 and digest[7:] == digest[7:].lower()
    assert int(digest[7:], 16) >= 0


def test_file_names_order_unchanged_memberships_and_live_details_do_not_enter_the_hash() -> None:
    one = Plan.build([change(), change(OTHER, "d/b.yaml")])
    renamed = Plan.build([change(OTHER, "elsewhere/b.yml"), change(source="moved/a.yaml")])
    more = Plan.build([change(), change(OTHER, "d/b.yaml"), unchanged("00000000-0000-4000-8000-000000000003")])
    refetched = Plan.build([replace(change(), fingerprint="sha256:z", liveSettings={"jobLogStatus": "ENABLED"})])
    assert one.changes_hash() == renamed.changes_hash() == more.changes_hash()
    assert refetched.changes_hash() == Plan.build([change()]).changes_hash()
    assert one.target is None and replace(one, target=Where("us-east-1")).changes_hash() == one.changes_hash()


def test_api_defaults_do_not_change_the_hash() -> None:
    spelled_out = {"outputConfiguration": {"s3": {**BUCKET["outputConfiguration"]["s3"], "keyPrefix": ""}}}
    a = Plan.build([change(MID, "a", FieldChange("defaultResultConfiguration", None, BUCKET))])
    b = Plan.build([change(MID, "a", FieldChange("defaultResultConfiguration", None, spelled_out))])
    assert a.changes_hash() == b.changes_hash()


@given(
    st.sampled_from(["membershipIdentifier", "region", "accountId", "before", "after", "field"]),
)
def test_any_different_change_gives_another_hash(what: str) -> None:
    base = change()
    altered = {
        "membershipIdentifier": replace(base, membershipIdentifier=OTHER),
        "region": replace(base, region="eu-west-1"),
        "accountId": replace(base, accountId="111122223333"),
        "before": replace(base, fields=(FieldChange("queryLogStatus", None, "ENABLED"),)),
        "after": replace(base, fields=(FieldChange("queryLogStatus", "DISABLED", "DISABLED "),)),
        "field": replace(base, fields=(FieldChange("jobLogStatus", "DISABLED", "ENABLED"),)),
    }[what]
    assert Plan.build([altered]).changes_hash() != Plan.build([base]).changes_hash()


def test_the_json_carries_the_hash_and_a_saved_plan_whose_changes_were_edited_is_refused() -> None:
    plan = Plan.build([change()])
    document = plan.to_json()
    assert document["changesHash"] == plan.changes_hash()
    loaded, problems = saved.parse(json.dumps(document))
    assert problems == [] and loaded is not None and loaded.changes_hash() == plan.changes_hash()
    document["changes"][0]["fields"]["queryLogStatus"]["after"] = "DISABLED"
    refused, problems = saved.parse(json.dumps(document))
    assert refused is None
    assert problems == [
        f"changesHash: {plan.changes_hash()} is not the hash of the changes listed (the plan was edited)"
    ]
