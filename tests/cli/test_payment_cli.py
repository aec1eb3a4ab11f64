"""Payment responsibilities and the job result format end to end, as a user runs the CLI, against the local
endpoint: plan, apply, converge, import; a contradiction of the designation stops plan and apply."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.sandbox import CleanRoomsSandbox

from ..helpers import Result, run_cli, write_desired

ROLE = "arn:aws:iam::123456789012:role/CleanRoomsJobResults"
QUERIES_AND_JOBS = {"queryCompute": {"isResponsible": True}, "jobCompute": {"isResponsible": True}}


def cli(sandbox: CleanRoomsSandbox, *args: str) -> Result:
    return run_cli(list(args), env=sandbox.client_env())


def test_managed_payment_plans_applies_and_converges_keeping_unmanaged_sub_keys(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme")
    sandbox.designate(mid, QUERIES_AND_JOBS)
    write_desired(tmp_path, "a.yaml", mid, membershipPaymentConfiguration={"jobCompute": {"isResponsible": True}})
    plan = cli(sandbox, "plan", "--format", "json", str(tmp_path))
    assert plan.code == 0, plan.stdout + plan.stderr
    [change] = json.loads(plan.stdout)["changes"]
    assert change["fields"]["membershipPaymentConfiguration"]["after"] == QUERIES_AND_JOBS
    assert [r.operation for r in sandbox.requests()] == ["GetMembership", "ListMembers"]

    assert cli(sandbox, "apply", "--auto-approve", str(tmp_path)).code == 0
    assert [r.body for r in sandbox.requests("UpdateMembership")] == [
        {"membershipPaymentConfiguration": QUERIES_AND_JOBS}
    ]
    assert sandbox.membership(mid)["paymentConfiguration"] == QUERIES_AND_JOBS
    again = cli(sandbox, "plan", "--detailed-exitcode", str(tmp_path))
    assert again.code == 0 and "No changes." in again.stdout


def test_a_file_that_contradicts_the_designation_fails_plan_and_apply_writes_nothing(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme")  # the creator pays for queries
    write_desired(tmp_path, "a.yaml", mid, membershipPaymentConfiguration={"queryCompute": {"isResponsible": False}})
    plan = cli(sandbox, "plan", str(tmp_path))
    assert plan.code == 1
    assert (
        f"! {tmp_path}/a.yaml: membership {mid}: membershipPaymentConfiguration.queryCompute.isResponsible is false, "
        "but the collaboration's creator designated this member" in plan.stdout
    )
    assert "the creator designates payers, a member can only accept that" in plan.stdout
    apply = cli(sandbox, "apply", "--auto-approve", str(tmp_path))
    assert apply.code == 1 and "1 membership(s) cannot be planned; nothing will be applied" in apply.stderr
    assert sandbox.requests("UpdateMembership") == []


def test_a_parquet_job_result_format_round_trips_and_xlsx_is_refused_at_its_line(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme")
    job = {"roleArn": ROLE, "outputConfiguration": {"s3": {"bucket": "jobs-bucket", "resultFormat": "PARQUET"}}}
    write_desired(tmp_path / "d", "a.yaml", mid, defaultJobResultConfiguration=job)
    assert cli(sandbox, "apply", "--auto-approve", str(tmp_path / "d")).code == 0
    assert sandbox.membership(mid)["defaultJobResultConfiguration"] == job
    assert cli(sandbox, "plan", "--detailed-exitcode", str(tmp_path / "d")).code == 0
    imported = cli(sandbox, "import", "--membership", mid, "--out-dir", str(tmp_path / "imported"))
    assert imported.code == 0, imported.stderr
    text = next((tmp_path / "imported").glob("*.yaml")).read_text()
    assert "      resultFormat: PARQUET" in text and "membershipPaymentConfiguration:" in text
    assert cli(sandbox, "plan", "--detailed-exitcode", str(tmp_path / "imported")).code == 0

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "b.yaml").write_text(
        f"membershipIdentifier: {mid}\ndefaultJobResultConfiguration:\n  roleArn: {ROLE}\n"
        "  outputConfiguration:\n    s3:\n      bucket: jobs-bucket\n      resultFormat: XLSX\n"
    )
    invalid = cli(sandbox, "validate", str(tmp_path / "bad"))
    assert invalid.code == 1
    assert invalid.stdout.startswith(
        f"{tmp_path}/bad/b.yaml:7:21: defaultJobResultConfiguration.outputConfiguration.s3.resultFormat:"
    )
