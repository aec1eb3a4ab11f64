"""Live membership -> desired-state YAML: new files in the contract's key order, updates that keep comments."""

from __future__ import annotations

from reconciler.core.importer import file_name, render_new, render_update
from reconciler.core.models import LiveMembership

from ..helpers import job_results, query_results

MID = "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21"


def live(**settings: object) -> LiveMembership:
    return LiveMembership(
        MID,
        f"arn:aws:cleanrooms:us-east-1:111122223333:membership/{MID}",
        "us-east-1",
        "Acme Retail: Measurement",
        "ACTIVE",
        ("CAN_QUERY",),
        dict(settings),
    )


def test_file_names_are_a_slug_and_the_id_prefix() -> None:
    assert file_name(live()) == "acme-retail-measurement-3f1c2a9e.yaml"


def test_a_new_file_holds_the_guards_and_what_is_set_live_in_contract_order() -> None:
    text = render_new(live(jobLogStatus="ENABLED", defaultJobResultConfiguration=job_results("b-c")), "../s.json")
    assert text.splitlines() == [
        "# yaml-language-server: $schema=../s.json",
        f"membershipIdentifier: {MID}",
        "region: us-east-1",
        "accountId: '111122223333'",
        "collaborationName: 'Acme Retail: Measurement'",
        "jobLogStatus: ENABLED",
        "defaultJobResultConfiguration:",
        "  roleArn: arn:aws:iam::123456789012:role/CleanRoomsJobResults",
        "  outputConfiguration:",
        "    s3:",
        "      bucket: b-c",
    ]


def test_an_update_keeps_comments_order_and_left_out_guards_and_drops_what_is_gone() -> None:
    existing = (
        "# our retail membership\n"
        f"membershipIdentifier: {MID}  # do not change\n"
        "queryLogStatus: DISABLED  # turned on after review\n"
        "jobLogStatus: ENABLED\n"
    )
    updated = render_update(existing, live(queryLogStatus="ENABLED", defaultResultConfiguration=query_results("q-r")))
    assert updated.splitlines()[:3] == [
        "# our retail membership",
        f"membershipIdentifier: {MID}  # do not change",
        "queryLogStatus: ENABLED   # turned on after review",  # the comment keeps its column
    ]
    assert "jobLogStatus" not in updated and "region:" not in updated and "accountId" not in updated
    assert "      bucket: q-r" in updated.splitlines()


def test_tags_are_written_in_name_order_after_the_settings_and_only_when_there_are_some() -> None:
    tags = {"team": "data", "bucket": "b", "cost-centre": "Café"}  # `bucket` is a setting's name, not ranked
    text = render_new(live(queryLogStatus="ENABLED").with_tags({**tags, "aws:created-by": "x"}), "../s.json")
    assert text.splitlines()[5:] == [
        "queryLogStatus: ENABLED",
        "tags:",
        "  bucket: b",
        '  cost-centre: "Café"',  # quoted: anything but printable ASCII is
        "  team: data",
    ]
    assert "tags" not in render_new(live().with_tags({"aws:created-by": "x"}), "../s.json")


def test_an_update_brings_the_tag_set_to_the_live_one_even_to_empty_when_the_file_manages_it() -> None:
    existing = f"membershipIdentifier: {MID}\ntags:\n  team: data  # who owns it\n  gone: x\n"
    updated = render_update(existing, live().with_tags({"team": "ml", "new": "1"}))
    assert updated.splitlines()[1:] == ["tags:", "  team: ml    # who owns it", "  new: '1'"]
    emptied = render_update(existing, live().with_tags({}))
    assert emptied.splitlines()[1:] == ["tags: {}"]
    # Like every setting set live, tags are added to a file that did not have them; none: nothing added.
    unmanaged = f"membershipIdentifier: {MID}\n"
    assert render_update(unmanaged, live().with_tags({"team": "ml"})) == unmanaged + "tags:\n  team: ml\n"
    assert render_update(unmanaged, live().with_tags({})) == unmanaged
