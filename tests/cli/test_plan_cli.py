"""`reconciler plan` end to end: the real CLI in a subprocess against the local Clean Rooms endpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path

from reconciler.sandbox import THROTTLE, CleanRoomsSandbox

from ..helpers import Result, job_results, query_results, run_cli, write_desired

MISSING = "00000000-0000-4000-8000-000000000000"


def plan(sandbox: CleanRoomsSandbox, *args: str) -> Result:
    return run_cli(["plan", *args], env=sandbox.client_env())


def assert_no_writes(sandbox: CleanRoomsSandbox) -> None:
    assert sandbox.requests("UpdateMembership") == []
    assert {r.method for r in sandbox.requests()} <= {"GET"}


def test_no_changes(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="ENABLED", defaultResultConfiguration=query_results())
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED", defaultResultConfiguration=query_results())
    result = plan(sandbox, "--detailed-exitcode", str(tmp_path))
    assert result.code == 0, result.stderr
    assert "No changes." in result.stdout
    assert "Plan: 1 membership, 0 to change, 1 unchanged." in result.stdout
    assert [r.operation for r in sandbox.requests()] == ["GetMembership"]


def test_single_field_change_text_and_exit_codes(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="DISABLED")
    source = write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    result = plan(sandbox, str(tmp_path))
    assert result.code == 0
    assert f"~ membership {mid} acme ({source}, us-east-1)" in result.stdout
    assert '    ~ queryLogStatus: "DISABLED" -> "ENABLED"' in result.stdout
    assert "Plan: 1 membership, 1 to change, 0 unchanged." in result.stdout
    assert plan(sandbox, "--detailed-exitcode", str(tmp_path)).code == 2
    assert_no_writes(sandbox)


def test_nested_leaf_change_names_the_leaf(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", defaultResultConfiguration=query_results("old-bucket", keyPrefix="r/"))
    write_desired(tmp_path, "a.yaml", mid, defaultResultConfiguration=query_results("new-bucket", keyPrefix="r/"))
    result = plan(sandbox, "--format", "json", str(tmp_path))
    assert result.code == 0
    [change] = json.loads(result.stdout)["changes"]
    field = change["fields"]["defaultResultConfiguration"]
    assert field["before"] == query_results("old-bucket", keyPrefix="r/")
    assert field["after"] == query_results("new-bucket", keyPrefix="r/")
    assert field["leaves"] == [
        {"path": "outputConfiguration.s3.bucket", "before": "old-bucket", "after": "new-bucket", "kind": "changed"}
    ]
    text = plan(sandbox, str(tmp_path)).stdout
    assert '        ~ outputConfiguration.s3.bucket: "old-bucket" -> "new-bucket"' in text


def test_json_matches_the_contract(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    changed = sandbox.create_membership("acme", queryLogStatus="DISABLED")
    same = sandbox.create_membership("globex", queryLogStatus="ENABLED")
    source = write_desired(tmp_path, "a.yaml", changed, queryLogStatus="ENABLED")
    write_desired(tmp_path, "b.yaml", same, queryLogStatus="ENABLED")
    result = plan(sandbox, "--format", "json", str(tmp_path))
    document = json.loads(result.stdout)
    assert document["formatVersion"] == 1
    assert document["summary"] == {"memberships": 2, "toChange": 1, "unchanged": 1}
    [change] = document["changes"]
    assert change["membershipIdentifier"] == changed
    assert change["source"] == str(source)
    assert change["region"] == "us-east-1"
    # Extra keys are welcome: `origin` says the value is the file's own (not reconciler.yaml's defaults).
    assert change["fields"] == {"queryLogStatus": {"before": "DISABLED", "after": "ENABLED", "origin": "file"}}
    assert change["fingerprint"].startswith("sha256:")
    assert len(change["desiredSha256"]) == 64
    assert document["errors"] == []


def test_several_memberships_in_stable_order(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    ids = [sandbox.create_membership(f"c{i}", queryLogStatus="DISABLED") for i in range(4)]
    for i, mid in enumerate(ids):
        write_desired(tmp_path, f"z{3 - i}/m.yaml", mid, queryLogStatus="ENABLED", jobLogStatus="ENABLED")
    first = plan(sandbox, "--format", "json", str(tmp_path)).stdout
    second = plan(sandbox, "--format", "json", str(tmp_path)).stdout
    assert first == second
    changes = json.loads(first)["changes"]
    assert [c["source"] for c in changes] == sorted(c["source"] for c in changes)
    assert [list(c["fields"]) for c in changes] == [["queryLogStatus", "jobLogStatus"]] * 4
    assert_no_writes(sandbox)


def test_unmanaged_fields_changed_out_of_band_are_not_drift(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="ENABLED")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    sandbox.write(mid, {"jobLogStatus": "ENABLED", "defaultJobResultConfiguration": job_results()})
    result = plan(sandbox, "--detailed-exitcode", str(tmp_path))
    assert result.code == 0
    assert "0 to change, 1 unchanged" in result.stdout


def test_each_error_class_names_the_membership_and_file(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    removed = sandbox.create_membership("gone", status="REMOVED")
    guarded = sandbox.create_membership("acme")
    no_results = sandbox.create_membership("provider", abilities=["CAN_QUERY"])
    fine = sandbox.create_membership("fine")
    files = {
        MISSING: write_desired(tmp_path, "missing.yaml", MISSING, queryLogStatus="ENABLED"),
        removed: write_desired(tmp_path, "removed.yaml", removed, queryLogStatus="ENABLED"),
        guarded: write_desired(tmp_path, "guarded.yaml", guarded, accountId="999999999999", collaborationName="x"),
        no_results: write_desired(tmp_path, "results.yaml", no_results, defaultResultConfiguration=query_results()),
    }
    write_desired(tmp_path, "fine.yaml", fine, queryLogStatus="ENABLED")
    result = plan(sandbox, "--format", "json", str(tmp_path))
    assert result.code == 1
    assert "4 membership(s) cannot be planned; nothing will be applied" in result.stderr
    errors = json.loads(result.stdout)["errors"]
    by_id: dict[str, list[str]] = {}
    for error in errors:
        assert error["source"] == str(files[error["membershipIdentifier"]])
        by_id.setdefault(error["membershipIdentifier"], []).append(error["message"])
    assert by_id[MISSING] == [by_id[MISSING][0]]
    assert by_id[MISSING][0].startswith("not found in us-east-1 (ResourceNotFoundException, request id ")
    assert by_id[removed] == ["status is REMOVED; only an ACTIVE membership can be updated"]
    assert sorted(by_id[guarded]) == [
        "accountId guard is 999999999999 but the membership is in account 123456789012",
        "collaborationName guard is 'x' but the membership belongs to 'acme'",
    ]
    assert "cannot receive results" in by_id[no_results][0]
    assert_no_writes(sandbox)
    text = plan(sandbox, str(tmp_path))
    assert f"! {files[removed]}: membership {removed}: status is REMOVED" in text.stdout


def test_invalid_desired_state_stops_before_any_call(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    bad = write_desired(tmp_path, "b.yaml", mid.replace("-", "_"))
    result = plan(sandbox, str(tmp_path))
    assert result.code == 1
    assert f"{bad}:1:23: membershipIdentifier:" in result.stderr
    assert "nothing was read or changed" in result.stderr
    assert sandbox.requests() == []


def test_membership_option_plans_a_subset(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    a, b = sandbox.create_membership("a"), sandbox.create_membership("b")
    write_desired(tmp_path, "a.yaml", a, queryLogStatus="ENABLED")
    write_desired(tmp_path, "b.yaml", b, queryLogStatus="ENABLED")
    result = plan(sandbox, "--format", "json", "--membership", b, str(tmp_path))
    assert [c["membershipIdentifier"] for c in json.loads(result.stdout)["changes"]] == [b]
    assert [r.membership_id for r in sandbox.requests()] == [b]
    unknown = plan(sandbox, "--membership", MISSING, str(tmp_path))
    assert unknown.code == 1
    assert f"--membership names no file under {tmp_path}: {MISSING}" in unknown.stderr


def test_saved_plan_holds_fingerprints(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme")
    write_desired(tmp_path / "ds", "a.yaml", mid, queryLogStatus="ENABLED")
    out = tmp_path / "plan.json"
    result = plan(sandbox, "--out", str(out), str(tmp_path / "ds"))
    assert result.code == 0
    saved = json.loads(out.read_text())
    assert saved["changes"][0]["fingerprint"].startswith("sha256:")
    assert saved["summary"] == {"memberships": 1, "toChange": 1, "unchanged": 0}


def test_markdown_has_summary_table_and_details(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", defaultResultConfiguration=query_results("old-bucket"))
    write_desired(tmp_path, "a.yaml", mid, defaultResultConfiguration=query_results("new-bucket"))
    env = sandbox.client_env() | {
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": "acme/cleanrooms",
        "GITHUB_SHA": "abc123",
    }
    result = run_cli(["plan", "--format", "markdown", str(tmp_path)], env=env)
    lines = result.stdout.splitlines()
    assert lines[0] == "### Clean Rooms plan: 1 to change, 0 unchanged (1 membership)"
    assert "| membership | collaboration | file | account/region | fields |" in lines
    assert f"https://github.example/acme/cleanrooms/blob/abc123/{tmp_path}/a.yaml" in result.stdout
    assert "<details><summary>" in result.stdout
    assert '    ~ outputConfiguration.s3.bucket: "old-bucket" -> "new-bucket"' in lines


def test_reads_retry_through_throttling(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    sandbox.inject("GetMembership", sequence=[THROTTLE, THROTTLE])
    result = run_cli(["-v", "plan", str(tmp_path)], env=sandbox.client_env() | {"RECONCILER_RETRY_BASE_DELAY": "0.01"})
    assert result.code == 0, result.stderr
    assert [r.status for r in sandbox.requests()] == [429, 429, 200]
    assert f"retry GetMembership {mid}: throttled (ThrottlingException), no attempt spent; waiting" in result.stderr


def test_a_file_with_no_region_anywhere_is_an_error(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    env = sandbox.client_env() | {"AWS_DEFAULT_REGION": ""}
    result = run_cli(["plan", str(tmp_path)], env={k: v for k, v in env.items() if v})
    assert result.code == 1
    assert "no region: set `region` in the file, pass --region" in result.stdout


def test_a_service_that_throttles_everything_is_said_once_and_ends_at_the_deadline(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    ids = [sandbox.create_membership(f"c{i}") for i in range(12)]
    for i, mid in enumerate(ids):
        write_desired(tmp_path, f"m{i:02d}.yaml", mid, queryLogStatus="ENABLED")
    sandbox.refuse_for(1e9)
    started = time.monotonic()
    result = plan(sandbox, "--retry-deadline", "2", str(tmp_path))
    elapsed = time.monotonic() - started
    assert result.code == 1
    assert elapsed < 2 * 2 + 3, f"{elapsed:.1f} s"
    assert [line for line in result.stdout.splitlines() if line.startswith("!")] == [
        "! 12 memberships cannot be read: the service throttled every try (ThrottlingException) until the call's "
        f"--retry-deadline ({tmp_path}/m00.yaml, {tmp_path}/m01.yaml, {tmp_path}/m02.yaml and 9 more)"
    ]
    assert result.stderr.splitlines()[-1] == (
        "error: the service throttled every call: 12 memberships cannot be planned; nothing will be applied "
        "(try again later, or with a longer --retry-deadline)"
    )
    assert {r.status for r in sandbox.requests()} == {429}
