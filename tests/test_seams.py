"""Safety at the seams (issue 23): nothing unreviewed is written, whichever path a change takes.

Each test is a hostile user's attempt that once wrote, printed or waited what it should not: a hand-edited
saved plan, a slice past a guard, text from a pull request in a terminal or a workflow command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.sandbox import CleanRoomsSandbox

from .helpers import Result, query_results, run_cli, write_desired

FAST = ["--retry-base-delay", "0.01", "--retry-max-delay", "0.05"]
ATTACKER = {
    "roleArn": "arn:aws:iam::999999999999:role/AttackerRole",
    "outputConfiguration": {"s3": {"bucket": "attacker-bucket", "resultFormat": "CSV"}},
}


def cli(sandbox: CleanRoomsSandbox, cwd: Path, *args: str) -> Result:
    return run_cli(list(args), env=sandbox.client_env(), cwd=cwd)


def saved_plan(sandbox: CleanRoomsSandbox, root: Path, *args: str) -> dict[str, Any]:
    made = cli(sandbox, root, "plan", "--out", "plan.json", *args)
    assert made.code == 0, made.stderr
    data: dict[str, Any] = json.loads((root / "plan.json").read_text())
    return data


def rewrite(root: Path, data: dict[str, Any]) -> None:
    (root / "plan.json").write_text(json.dumps(data))


def writes(sandbox: CleanRoomsSandbox) -> list[dict[str, Any]]:
    return [r.body for r in sandbox.requests("UpdateMembership")]


# -- 1. a saved plan carries data, not instructions ----------------------------------------------------


def test_a_managed_key_added_to_a_saved_plan_is_refused_and_writes_nothing(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme", defaultResultConfiguration=query_results("ours", "CSV"))
    write_desired(tmp_path / "desired-state", "a.yaml", mid, defaultResultConfiguration=query_results("ours", "PARQUET"))
    data = saved_plan(sandbox, tmp_path)
    reviewed = data["changesHash"]
    data["changes"][0]["fields"]["defaultResultConfiguration"]["managed"] = ATTACKER
    rewrite(tmp_path, data)
    result = cli(sandbox, tmp_path, "apply", "--auto-approve", "--plan", "plan.json", "--expect-changes-hash", reviewed)
    assert result.code == 1
    assert "changes[0].fields.defaultResultConfiguration.managed" in result.stderr
    assert writes(sandbox) == []
    assert sandbox.membership(mid)["defaultResultConfiguration"] == query_results("ours", "CSV")


def test_payment_sub_keys_a_saved_plan_sends_are_those_its_after_shows(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme")
    sandbox.designate(mid, {"queryCompute": {"isResponsible": True}, "jobCompute": {"isResponsible": True}})
    payment = {"jobCompute": {"isResponsible": True}}
    write_desired(tmp_path / "desired-state", "a.yaml", mid, membershipPaymentConfiguration=payment)
    data = saved_plan(sandbox, tmp_path)
    field = data["changes"][0]["fields"]["membershipPaymentConfiguration"]
    # A managed part that the reviewed `after` does not show (queryCompute flipped) is refused.
    field["managed"] = {"jobCompute": {"isResponsible": True}, "queryCompute": {"isResponsible": False}}
    rewrite(tmp_path, data)
    result = cli(sandbox, tmp_path, "apply", "--auto-approve", "--plan", "plan.json")
    assert result.code == 1
    assert "managed: must be part of after" in result.stderr
    assert writes(sandbox) == []


def test_live_settings_edited_to_hide_staleness_are_refused(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="DISABLED")
    write_desired(tmp_path / "desired-state", "a.yaml", mid, queryLogStatus="ENABLED")
    data = saved_plan(sandbox, tmp_path)
    data["changes"][0]["liveSettings"] = {"queryLogStatus": "ENABLED"}
    rewrite(tmp_path, data)
    result = cli(sandbox, tmp_path, "apply", "--auto-approve", "--plan", "plan.json")
    assert result.code == 1
    assert "liveSettings.queryLogStatus: must equal the field's before" in result.stderr
    assert writes(sandbox) == []


def test_edited_leaves_are_not_what_a_saved_plan_shows(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", defaultResultConfiguration=query_results("ours", "CSV"))
    write_desired(tmp_path / "desired-state", "a.yaml", mid, defaultResultConfiguration=query_results("ours", "PARQUET"))
    data = saved_plan(sandbox, tmp_path)
    field = data["changes"][0]["fields"]["defaultResultConfiguration"]
    field["after"] = query_results("elsewhere", "PARQUET")
    field["leaves"] = [{"path": "outputConfiguration.s3.resultFormat", "before": "CSV", "after": "PARQUET"}]
    data.pop("changesHash")
    rewrite(tmp_path, data)
    shown = cli(sandbox, tmp_path, "render", "--format", "text", "plan.json")
    assert '~ outputConfiguration.s3.bucket: "ours" -> "elsewhere"' in shown.stdout
