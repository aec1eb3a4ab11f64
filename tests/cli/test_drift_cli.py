"""`reconciler drift`, GitHub integration, targets and multiple accounts, end to end on the local endpoint."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.sandbox import CleanRoomsSandbox

from ..helpers import Result, job_results, run_cli, write_desired

OTHER_ACCOUNT = "111111111111"
TEMPLATE = "arn:aws:iam::{accountId}:role/cleanrooms-reconciler"


def drift(sandbox: CleanRoomsSandbox, *args: str, env: dict[str, str] | None = None) -> Result:
    return run_cli(["drift", *args], env=sandbox.client_env() | (env or {}))


def test_no_drift_exits_0(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="ENABLED")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    result = drift(sandbox, str(tmp_path))
    assert result.code == 0
    assert "No drift. Live settings match the desired state." in result.stdout
    assert "Drift: 1 membership, 0 drifted, 1 in sync." in result.stdout


def test_drift_exits_2_and_reports_without_writing(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="ENABLED")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    sandbox.write(mid, {"queryLogStatus": "DISABLED"})  # someone flips logging off in the console
    result = drift(sandbox, str(tmp_path))
    assert result.code == 2
    assert '    ~ queryLogStatus: "DISABLED" -> "ENABLED"' in result.stdout
    assert "Drift: 1 membership, 1 drifted, 0 in sync." in result.stdout
    as_json = json.loads(drift(sandbox, "--format", "json", str(tmp_path)).stdout)
    assert as_json["summary"] == {"memberships": 1, "toChange": 1, "unchanged": 0}
    assert as_json["changes"][0]["fields"] == {
        "queryLogStatus": {"before": "DISABLED", "after": "ENABLED", "origin": "file"}
    }
    markdown = drift(sandbox, "--format", "markdown", str(tmp_path)).stdout
    assert markdown.startswith("### Clean Rooms drift: 1 drifted, 0 in sync (1 membership)")
    # Reads only: GETs, and CloudTrail's LookupEvents (a POST in its JSON protocol) for who changed it.
    assert {r.operation for r in sandbox.requests() if r.method != "GET"} == {"LookupEvents"}
    assert sandbox.requests("UpdateMembership") == []


def test_drift_errors_exit_1(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("gone", status="COLLABORATION_DELETED")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    result = drift(sandbox, str(tmp_path))
    assert result.code == 1
    assert "status is COLLABORATION_DELETED" in result.stdout


def test_report_unmanaged_lists_active_memberships_no_file_covers(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    managed = sandbox.create_membership("managed")
    stray = sandbox.create_membership("stray")
    sandbox.create_membership("left-long-ago", status="REMOVED")
    write_desired(tmp_path, "a.yaml", managed, queryLogStatus="DISABLED")
    result = drift(sandbox, "--report-unmanaged", "--format", "json", str(tmp_path))
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [u["membershipIdentifier"] for u in report["unmanaged"]] == [stray]
    assert report["unmanaged"][0]["collaborationName"] == "stray"
    text = drift(sandbox, "--report-unmanaged", str(tmp_path)).stdout
    assert "Unmanaged: 1 ACTIVE membership(s) no file manages" in text
    assert f"? {stray} stray (us-east-1)" in text
    assert {r.query for r in sandbox.requests("ListMemberships")} == {"status=ACTIVE"}


def test_step_summary_is_appended_on_github(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme")
    write_desired(tmp_path / "d", "a.yaml", mid, queryLogStatus="ENABLED")
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"}
    assert drift(sandbox, str(tmp_path / "d"), env=env).code == 2
    result = run_cli(["apply", "--auto-approve", str(tmp_path / "d")], env=sandbox.client_env() | env)
    assert result.code == 0
    content = summary.read_text()
    assert content.startswith("earlier step\n### Clean Rooms drift: 1 drifted, 0 in sync (1 membership)")
    assert "### Clean Rooms plan: 1 to change" in content
    assert f":white_check_mark: applied: {mid}" in content

    # A report shown again (as the action does, for the artifact) is not added a second time.
    report = tmp_path / "drift.json"
    report.write_text(drift(sandbox, "--format", "json", str(tmp_path / "d")).stdout)
    shown = run_cli(["render", "--drift", str(report)], env=env)
    assert shown.code == 0 and "Clean Rooms drift" in shown.stdout
    assert summary.read_text() == content


def test_validation_errors_become_annotations_on_github(tmp_path: Path) -> None:
    path = write_desired(tmp_path, "bad.yaml", "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21", queryLogStatus="on")
    result = run_cli(["validate", str(tmp_path)], env={"GITHUB_ACTIONS": "true"})
    assert result.code == 1
    assert f"::error file={path},line=2,col=17::queryLogStatus: Input should be 'ENABLED' or 'DISABLED'" in (
        result.stdout
    )
    assert "::error" not in run_cli(["validate", str(tmp_path)]).stdout


def seed_two_accounts(sandbox: CleanRoomsSandbox, tmp_path: Path) -> tuple[str, str]:
    here = sandbox.create_membership("ours", queryLogStatus="DISABLED")
    there = sandbox.create_membership("theirs", queryLogStatus="DISABLED", region="eu-west-1", account_id=OTHER_ACCOUNT)
    write_desired(tmp_path, "here.yaml", here, queryLogStatus="ENABLED")
    write_desired(tmp_path, "there.yaml", there, region="eu-west-1", accountId=OTHER_ACCOUNT, queryLogStatus="ENABLED")
    return here, there


def test_targets_prints_a_github_matrix(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    seed_two_accounts(sandbox, tmp_path)
    result = run_cli(["targets", "--format", "github-matrix", str(tmp_path)], env=sandbox.client_env())
    assert result.code == 0
    assert json.loads(result.stdout) == {
        "include": [
            {"account": OTHER_ACCOUNT, "region": "eu-west-1", "target": f"{OTHER_ACCOUNT}/eu-west-1"},
            {"account": "default", "region": "us-east-1", "target": "default/us-east-1"},
        ]
    }
    text = run_cli(["targets", str(tmp_path)], env=sandbox.client_env()).stdout
    assert text.splitlines() == [f"{OTHER_ACCOUNT}/eu-west-1", "default/us-east-1"]
    assert sandbox.requests() == []


def test_targets_of_one_membership_and_a_drift_report_that_says_it_covers_only_that(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    here, there = seed_two_accounts(sandbox, tmp_path)
    args = ["targets", "--format", "github-matrix", "--membership", there, str(tmp_path)]
    one = run_cli(args, env=sandbox.client_env())
    assert (one.code, one.stderr) == (0, "")
    assert json.loads(one.stdout) == {
        "include": [{"account": OTHER_ACCOUNT, "region": "eu-west-1", "target": f"{OTHER_ACCOUNT}/eu-west-1"}]
    }
    arn = f"arn:aws:cleanrooms:eu-west-1:{OTHER_ACCOUNT}:membership/{there}"  # an event's resources[0]
    by_arn = run_cli([*args[:3], "--membership", arn, str(tmp_path)], env=sandbox.client_env())
    assert (by_arn.code, by_arn.stdout) == (0, one.stdout)
    # A change event may be about a membership git does not manage: said, and nothing to check.
    stranger = "00000000-0000-4000-8000-0000000000aa"
    none = run_cli([*args[:3], "--membership", stranger, str(tmp_path)], env=sandbox.client_env())
    assert none.code == 0
    assert none.stderr == f"membership {stranger} is in no file under {tmp_path}: not checked\n"
    assert json.loads(none.stdout) == {"include": []}

    drift = run_cli(
        [
            *("--assume-role-template", TEMPLATE, "drift", "--format", "json", "--no-attribution"),
            *("--target", f"{OTHER_ACCOUNT}/eu-west-1", "--membership", there, str(tmp_path)),
        ],
        env=sandbox.client_env(),
    )
    assert drift.code == 2, drift.stderr
    report = json.loads(drift.stdout)
    assert (report["target"], report["scope"]) == (f"{OTHER_ACCOUNT}/eu-west-1", [there])
    assert [c["membershipIdentifier"] for c in report["changes"]] == [there]
    assert [r.membership_id for r in sandbox.requests("GetMembership")] == [there]
    whole = json.loads(
        run_cli(["drift", "--format", "json", "--no-attribution", str(tmp_path)], env=sandbox.client_env()).stdout
    )
    assert "scope" not in whole and here in [c["membershipIdentifier"] for c in whole["changes"]]


def test_assume_role_reaches_each_account_and_target_filters(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    here, there = seed_two_accounts(sandbox, tmp_path)
    base = ["--assume-role-template", TEMPLATE]
    result = run_cli(
        [*base, "apply", "--auto-approve", "--target", f"{OTHER_ACCOUNT}/eu-west-1", str(tmp_path)],
        env=sandbox.client_env(),
    )
    assert result.code == 0, result.stdout + result.stderr
    assert sandbox.membership(there, "eu-west-1", OTHER_ACCOUNT)["queryLogStatus"] == "ENABLED"
    assert sandbox.membership(here)["queryLogStatus"] == "DISABLED"
    assert [r.membership_id for r in sandbox.requests("UpdateMembership")] == [there]
    assert f"applied: {there}" in result.stdout
    plan = run_cli([*base, "plan", "--format", "json", str(tmp_path)], env=sandbox.client_env())
    document = json.loads(plan.stdout)
    assert [(c["membershipIdentifier"], c["accountId"]) for c in document["changes"]] == [(here, None)]
    assert document["summary"] == {"memberships": 2, "toChange": 1, "unchanged": 1}


def test_without_assume_role_another_account_is_not_found(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    _, there = seed_two_accounts(sandbox, tmp_path)
    result = run_cli(["plan", "--target", f"{OTHER_ACCOUNT}/eu-west-1", str(tmp_path)], env=sandbox.client_env())
    assert result.code == 1
    assert f"membership {there}: not found in {OTHER_ACCOUNT}/eu-west-1" in result.stdout


def test_drift_cannot_reach_a_write() -> None:
    from reconciler.core.api import ReadOnly

    assert not hasattr(ReadOnly, "update_membership")


def test_bad_target_is_refused(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    write_desired(tmp_path, "a.yaml", sandbox.create_membership("a"), queryLogStatus="ENABLED")
    result = drift(sandbox, "--target", "us-east-1", str(tmp_path))
    assert result.code == 1
    assert "expected ACCOUNT/REGION" in result.stderr


def test_job_results_drift_is_detected(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", defaultJobResultConfiguration=job_results("right-bucket"))
    write_desired(tmp_path, "a.yaml", mid, defaultJobResultConfiguration=job_results("right-bucket"))
    assert drift(sandbox, str(tmp_path)).code == 0
    sandbox.write(mid, {"defaultJobResultConfiguration": job_results("wrong-bucket")})
    result = drift(sandbox, str(tmp_path))
    assert result.code == 2
    assert '        ~ outputConfiguration.s3.bucket: "wrong-bucket" -> "right-bucket"' in result.stdout


def test_a_hostile_collaboration_name_stays_inert_in_the_drift_issue_markdown(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    hostile = "Acme | Retail </details> **@octocat** <img src=x>"
    mid = sandbox.create_membership(hostile, queryLogStatus="DISABLED")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    result = drift(sandbox, "--format", "markdown", str(tmp_path))
    assert result.code == 2
    assert "<img" not in result.stdout and "@octocat" not in result.stdout
    assert result.stdout.count("</details>") == 1
    assert "Acme &#124; Retail &#60;/details&#62; &#42;&#42;@&#8203;octocat&#42;&#42;" in result.stdout
