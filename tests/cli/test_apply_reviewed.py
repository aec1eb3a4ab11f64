"""apply --expect-changes-hash / --reviewed-plan / --receipt: what was reviewed is what runs, and every run
leaves a receipt (end to end, in-process, against the local endpoint)."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.sandbox import CleanRoomsSandbox

from ..helpers import Result, run_cli, write_desired

HASH = "sha256:" + "0" * 64


def reviewed(sandbox: CleanRoomsSandbox, tmp_path: Path) -> tuple[str, str, Path]:
    """Two memberships to change, and the plan a reviewer saw (as the plan workflow saves it)."""
    one, two = sandbox.create_membership("one"), sandbox.create_membership("two")
    write_desired(tmp_path / "d", "one.yaml", one, queryLogStatus="ENABLED")
    write_desired(tmp_path / "d", "two.yaml", two, jobLogStatus="ENABLED")
    saved = tmp_path / "reviewed.json"
    plan = run_cli(["plan", "--format", "json", str(tmp_path / "d")], env=sandbox.client_env())
    saved.write_text(plan.stdout)
    return one, two, saved


def apply(sandbox: CleanRoomsSandbox, tmp_path: Path, *args: str, variables: dict[str, str] | None = None) -> Result:
    env = sandbox.client_env() | (variables or {})
    return run_cli(["apply", "--auto-approve", *args, str(tmp_path / "d")], env=env)


def test_the_reviewed_hash_applies_exactly_that_plan_and_the_receipt_says_so(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    one, two, saved = reviewed(sandbox, tmp_path)
    expected = json.loads(saved.read_text())["changesHash"]
    receipt = tmp_path / "out" / "receipt.json"
    github = {"GITHUB_SHA": "a" * 40, "GITHUB_SERVER_URL": "https://github.test", "GITHUB_REPOSITORY": "acme/cr"}
    result = apply(
        sandbox,
        tmp_path,
        "--expect-changes-hash",
        expected,
        "--receipt",
        str(receipt),
        "--pull-request",
        "7",
        "--target",
        "default/us-east-1",
        variables=github | {"GITHUB_RUN_ID": "55"},
    )
    assert result.code == 0, result.stdout + result.stderr
    assert sandbox.membership(one)["queryLogStatus"] == "ENABLED"
    assert sandbox.membership(two)["jobLogStatus"] == "ENABLED"
    document = json.loads(receipt.read_text())
    assert {k: document[k] for k in ("result", "commit", "pullRequest", "runUrl", "target")} == {
        "result": "applied",
        "commit": "a" * 40,
        "pullRequest": 7,
        "runUrl": "https://github.test/acme/cr/actions/runs/55",
        "target": "default/us-east-1",
    }
    assert document["reviewedHash"] == document["appliedHash"] == expected
    by_id = {m["membershipIdentifier"]: m for m in document["memberships"]}
    assert by_id[one]["fields"] == {"queryLogStatus": {"before": "DISABLED", "after": "ENABLED"}}
    assert by_id[two]["fields"] == {"jobLogStatus": {"before": None, "after": "ENABLED"}}
    for membership in by_id.values():
        assert membership["outcome"] == "applied" and len(membership["requestIds"]) == 1
        assert membership["firstWriteAt"] is not None and document["startedAt"] <= membership["firstWriteAt"]


def test_another_hash_writes_nothing_and_says_the_plan_is_not_the_one_reviewed(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    _, _, saved = reviewed(sandbox, tmp_path)
    actual = json.loads(saved.read_text())["changesHash"]
    receipt = tmp_path / "receipt.json"
    result = apply(sandbox, tmp_path, "--expect-changes-hash", HASH, "--receipt", str(receipt))
    assert result.code == 1
    assert result.stderr.splitlines()[-1] == (
        f"error: the plan is not the one reviewed: its changes hash is {actual}, the reviewed one {HASH}; "
        "nothing was applied (review the new plan, then apply it with its hash)"
    )
    assert sandbox.requests("UpdateMembership") == []
    document = json.loads(receipt.read_text())
    assert (document["result"], document["reviewedHash"], document["appliedHash"]) == ("refused", HASH, actual)
    assert [m["outcome"] for m in document["memberships"]] == ["not applied", "not applied"]


def test_a_setting_that_drifted_since_review_is_named_with_the_reviewed_plan(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    one, two, saved = reviewed(sandbox, tmp_path)
    expected = json.loads(saved.read_text())["changesHash"]
    sandbox.write(one, {"queryLogStatus": "ENABLED"})  # done by hand between review and merge
    sandbox.write(two, {"jobLogStatus": "DISABLED"})
    result = apply(sandbox, tmp_path, "--expect-changes-hash", expected, "--reviewed-plan", str(saved))
    assert result.code == 1
    lines = result.stderr.splitlines()
    assert (
        f'  membership {one} (default/us-east-1): reviewed queryLogStatus "DISABLED" -> "ENABLED"; '
        "nothing to change now" in lines
    )
    assert (
        f'  membership {two} (default/us-east-1): reviewed jobLogStatus null -> "ENABLED"; '
        'now jobLogStatus "DISABLED" -> "ENABLED"' in lines
    )
    assert lines[-1].startswith("error: the plan is not the one reviewed")
    assert sandbox.requests("UpdateMembership") == []


def test_the_hash_option_is_checked_before_anything_is_read(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    reviewed(sandbox, tmp_path)
    sandbox.clear_requests()
    bad = apply(sandbox, tmp_path, "--expect-changes-hash", "abc")
    assert bad.code == 1
    assert "'abc': expected sha256: and 64 lower-case hex digits (a plan's changesHash)" in bad.stderr
    alone = apply(sandbox, tmp_path, "--reviewed-plan", str(tmp_path / "reviewed.json"))
    assert alone.code == 1 and "error: --reviewed-plan needs --expect-changes-hash" in alone.stderr
    assert sandbox.requests() == []
