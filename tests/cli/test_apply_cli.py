"""`reconciler apply` end to end: the real CLI in a subprocess against the local endpoint, faults included."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import SERVER_ERROR, THROTTLE, CleanRoomsSandbox, Fault

from ..helpers import Result, job_results, query_results, run_cli, spawn, subprocess_env, write_desired

FAST = ["--retry-base-delay", "0.01", "--retry-max-delay", "0.05"]
MISSING = "00000000-0000-4000-8000-000000000000"


def apply(sandbox: CleanRoomsSandbox, *args: str) -> Result:
    return run_cli(["apply", "--auto-approve", *FAST, *args], env=sandbox.client_env())


def writes(sandbox: CleanRoomsSandbox) -> list[dict[str, object]]:
    return [r.body for r in sandbox.requests("UpdateMembership")]


def test_sends_only_the_changed_fields(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership(
        "acme", queryLogStatus="ENABLED", jobLogStatus="DISABLED", defaultResultConfiguration=query_results("old")
    )
    write_desired(
        tmp_path,
        "a.yaml",
        mid,
        queryLogStatus="ENABLED",
        jobLogStatus="DISABLED",
        defaultResultConfiguration=query_results("new-bucket", keyPrefix="x/"),
    )
    result = apply(sandbox, str(tmp_path))
    assert result.code == 0, result.stdout + result.stderr
    assert writes(sandbox) == [{"defaultResultConfiguration": query_results("new-bucket", keyPrefix="x/")}]
    assert sandbox.membership(mid)["defaultResultConfiguration"] == query_results("new-bucket", keyPrefix="x/")
    assert f"applied: {mid} ({tmp_path}/a.yaml, us-east-1) fields defaultResultConfiguration" in result.stdout
    assert "Apply: 1 applied, 0 already converged, 0 failed, 0 not started." in result.stdout


def test_a_converged_apply_sends_nothing(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="ENABLED")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    result = apply(sandbox, str(tmp_path))
    assert result.code == 0
    assert "Nothing to apply." in result.stdout
    assert writes(sandbox) == []


def test_a_rerun_after_apply_sends_nothing(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED", defaultJobResultConfiguration=job_results())
    assert apply(sandbox, str(tmp_path)).code == 0
    sandbox.clear_requests()
    assert apply(sandbox, str(tmp_path)).code == 0
    assert writes(sandbox) == []


def test_throttling_storm_converges(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    ids = [sandbox.create_membership(f"c{i}") for i in range(4)]
    for i, mid in enumerate(ids):
        write_desired(tmp_path, f"m{i}.yaml", mid, queryLogStatus="ENABLED", jobLogStatus="ENABLED")
    sandbox.inject("GetMembership", rate=0.4, fault=THROTTLE)
    sandbox.inject("UpdateMembership", rate=0.4, fault=THROTTLE)
    result = apply(sandbox, "--max-attempts", "30", str(tmp_path))
    assert result.code == 0, result.stdout + result.stderr
    for mid in ids:
        live = sandbox.membership(mid)
        assert (live["queryLogStatus"], live["jobLogStatus"]) == ("ENABLED", "ENABLED")
    statuses = [r.status for r in sandbox.requests()]
    assert statuses.count(429) > 0
    assert all(w == {"queryLogStatus": "ENABLED", "jobLogStatus": "ENABLED"} for w in writes(sandbox))


def test_conflicts_with_concurrent_writes_converge_and_keep_the_other_write(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    ids = [sandbox.create_membership(f"c{i}") for i in range(4)]
    for i, mid in enumerate(ids):
        write_desired(tmp_path, f"m{i}.yaml", mid, queryLogStatus="ENABLED")
    other = job_results("concurrent-bucket")
    sandbox.inject(
        "UpdateMembership",
        rate=0.5,
        fault=Fault(409, reason="INVALID_STATE", concurrent_write={"defaultJobResultConfiguration": other}),
    )
    result = apply(sandbox, "--max-attempts", "20", str(tmp_path))
    assert result.code == 0, result.stdout + result.stderr
    conflicted = {r.membership_id for r in sandbox.requests("UpdateMembership") if r.status == 409}
    assert conflicted
    for mid in ids:
        live = sandbox.membership(mid)
        assert live["queryLogStatus"] == "ENABLED"
        assert live.get("defaultJobResultConfiguration") == (other if mid in conflicted else None)
    assert all(w == {"queryLogStatus": "ENABLED"} for w in writes(sandbox))


def test_endless_throttling_fails_at_the_retry_deadline(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    stuck, fine = sandbox.create_membership("stuck"), sandbox.create_membership("fine")
    write_desired(tmp_path, "stuck.yaml", stuck, queryLogStatus="ENABLED")
    write_desired(tmp_path, "fine.yaml", fine, jobLogStatus="ENABLED")
    sandbox.inject("UpdateMembership", rate=1.0, fault=THROTTLE, membership_id=stuck)
    result = apply(sandbox, "--max-attempts", "2", "--retry-deadline", "3", str(tmp_path))
    assert result.code == 1
    stuck_writes = [r.status for r in sandbox.requests("UpdateMembership") if r.membership_id == stuck]
    # Throttling spends time, not attempts: more tries than --max-attempts, all inside the deadline.
    assert len(stuck_writes) > 2 and set(stuck_writes) == {429}
    assert f"failed: {stuck} ({tmp_path}/stuck.yaml, us-east-1): UpdateMembership {stuck}: ThrottlingException" in (
        result.stdout
    )
    assert f"applied: {fine}" in result.stdout
    assert "Apply: 1 applied, 0 already converged, 1 failed, 0 not started." in result.stdout
    assert "Run apply again" in result.stderr
    assert sandbox.membership(stuck)["queryLogStatus"] == "DISABLED"


def test_write_succeeded_then_500_is_not_resent(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    sandbox.inject("UpdateMembership", sequence=[Fault(500, after_apply=True)])
    result = apply(sandbox, str(tmp_path))
    assert result.code == 0, result.stdout + result.stderr
    assert [r.operation for r in sandbox.requests()] == ["GetMembership", "UpdateMembership", "GetMembership"]
    assert f"applied: {mid} ({tmp_path}/a.yaml, us-east-1) fields queryLogStatus: confirmed by a read" in result.stdout


def test_a_500_before_the_write_is_resent_after_a_read(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    sandbox.inject("UpdateMembership", sequence=[SERVER_ERROR])
    assert apply(sandbox, str(tmp_path)).code == 0
    assert [(r.operation, r.status) for r in sandbox.requests()] == [
        ("GetMembership", 200),
        ("UpdateMembership", 500),
        ("GetMembership", 200),
        ("UpdateMembership", 200),
    ]


def test_iam_propagation_delay_is_retried_other_validation_errors_are_not(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    a, b = sandbox.create_membership("a"), sandbox.create_membership("b")
    write_desired(tmp_path, "a.yaml", a, queryLogStatus="ENABLED")
    write_desired(tmp_path, "b.yaml", b, queryLogStatus="ENABLED")
    sandbox.inject("UpdateMembership", sequence=[Fault(400, reason="IAM_SYNCHRONIZATION_DELAY")], membership_id=a)
    sandbox.inject("UpdateMembership", sequence=[Fault(400, reason="INVALID_CONFIGURATION")], membership_id=b)
    result = apply(sandbox, str(tmp_path))
    assert result.code == 1
    assert [r.status for r in sandbox.requests("UpdateMembership") if r.membership_id == a] == [400, 200]
    assert [r.status for r in sandbox.requests("UpdateMembership") if r.membership_id == b] == [400]
    assert f"failed: {b}" in result.stdout
    assert "ValidationException; reason INVALID_CONFIGURATION" in result.stdout


def test_max_changes_refuses_before_any_write(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    for i in range(3):
        write_desired(tmp_path, f"m{i}.yaml", sandbox.create_membership(f"c{i}"), queryLogStatus="ENABLED")
    result = apply(sandbox, "--max-changes", "2", str(tmp_path))
    assert result.code == 1
    assert "3 memberships would change, more than --max-changes 2; nothing was applied" in result.stderr
    assert writes(sandbox) == []
    assert apply(sandbox, "--max-changes", "3", str(tmp_path)).code == 0


def test_removed_or_unknown_membership_stops_the_whole_apply(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    fine = sandbox.create_membership("fine")
    removed = sandbox.create_membership("gone", status="REMOVED")
    write_desired(tmp_path, "fine.yaml", fine, queryLogStatus="ENABLED")
    write_desired(tmp_path, "removed.yaml", removed, queryLogStatus="ENABLED")
    result = apply(sandbox, str(tmp_path))
    assert result.code == 1
    assert f"membership {removed}: status is REMOVED" in result.stdout
    write_desired(tmp_path, "removed.yaml", MISSING, queryLogStatus="ENABLED")
    result = apply(sandbox, str(tmp_path))
    assert result.code == 1
    assert f"membership {MISSING}: not found in us-east-1" in result.stdout
    assert writes(sandbox) == []


def test_invalid_desired_state_stops_apply_before_any_call(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    write_desired(tmp_path, "a.yaml", sandbox.create_membership("a"), queryLogStatus="YES")
    result = apply(sandbox, str(tmp_path))
    assert result.code == 1
    assert f"{tmp_path}/a.yaml:2:17: queryLogStatus:" in result.stderr
    assert sandbox.requests() == []


def test_without_a_terminal_apply_refuses_unless_auto_approved(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    write_desired(tmp_path, "a.yaml", sandbox.create_membership("a"), queryLogStatus="ENABLED")
    result = run_cli(["apply", str(tmp_path)], env=sandbox.client_env())
    assert result.code == 1
    assert "refusing to apply without a terminal to confirm on; pass --auto-approve" in result.stderr
    assert writes(sandbox) == []


def test_saved_plan_is_applied_exactly_and_ignores_files_added_later(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    desired = tmp_path / "desired"
    planned, later = sandbox.create_membership("planned"), sandbox.create_membership("later")
    write_desired(desired, "planned.yaml", planned, queryLogStatus="ENABLED")
    saved = tmp_path / "plan.json"
    assert run_cli(["plan", "--out", str(saved), str(desired)], env=sandbox.client_env()).code == 0
    write_desired(desired, "later.yaml", later, queryLogStatus="ENABLED")
    write_desired(desired, "planned.yaml", planned, queryLogStatus="ENABLED", jobLogStatus="ENABLED")
    result = apply(sandbox, "--plan", str(saved), str(desired))
    assert result.code == 0, result.stdout + result.stderr
    assert [(r.membership_id, r.body) for r in sandbox.requests("UpdateMembership")] == [
        (planned, {"queryLogStatus": "ENABLED"})
    ]
    assert sandbox.membership(later)["queryLogStatus"] == "DISABLED"


def test_stale_saved_plan_is_refused_with_no_write(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    desired = tmp_path / "desired"
    a, b = sandbox.create_membership("a"), sandbox.create_membership("b")
    write_desired(desired, "a.yaml", a, queryLogStatus="ENABLED", jobLogStatus="DISABLED")
    write_desired(desired, "b.yaml", b, queryLogStatus="ENABLED")
    saved = tmp_path / "plan.json"
    assert run_cli(["plan", "--out", str(saved), str(desired)], env=sandbox.client_env()).code == 0
    sandbox.write(a, {"jobLogStatus": "ENABLED"})
    result = apply(sandbox, "--plan", str(saved))
    assert result.code == 1
    assert f"membership {a}: the plan is stale: jobLogStatus changed since planning; run plan again" in result.stderr
    assert f"the saved plan {saved} no longer holds; nothing was applied" in result.stderr
    assert writes(sandbox) == []


def test_saved_plan_survives_a_change_to_an_unmanaged_field(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("a")
    write_desired(tmp_path / "d", "a.yaml", mid, queryLogStatus="ENABLED", jobLogStatus="ENABLED")
    saved = tmp_path / "plan.json"
    assert run_cli(["plan", "--out", str(saved), str(tmp_path / "d")], env=sandbox.client_env()).code == 0
    sandbox.write(mid, {"defaultJobResultConfiguration": job_results()})
    result = apply(sandbox, "--plan", str(saved))
    assert result.code == 0, result.stdout + result.stderr
    assert writes(sandbox) == [{"queryLogStatus": "ENABLED", "jobLogStatus": "ENABLED"}]
    assert sandbox.membership(mid)["defaultJobResultConfiguration"] == job_results()


def test_saved_plan_is_refused_when_a_managed_field_moved_even_to_its_planned_value(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("a")
    write_desired(tmp_path / "d", "a.yaml", mid, queryLogStatus="ENABLED", jobLogStatus="ENABLED")
    saved = tmp_path / "plan.json"
    assert run_cli(["plan", "--out", str(saved), str(tmp_path / "d")], env=sandbox.client_env()).code == 0
    sandbox.write(mid, {"jobLogStatus": "ENABLED"})  # someone did part of the plan by hand
    result = apply(sandbox, "--plan", str(saved))
    assert result.code == 1
    assert "the plan is stale: jobLogStatus changed since planning; run plan again" in result.stderr
    assert f"error: the saved plan {saved} no longer holds; nothing was applied" in result.stderr
    assert writes(sandbox) == []


def test_audit_log_has_a_line_per_write_attempt(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("a")
    write_desired(tmp_path / "d", "a.yaml", mid, queryLogStatus="ENABLED")
    sandbox.inject("UpdateMembership", sequence=[THROTTLE])
    audit = tmp_path / "audit.jsonl"
    assert apply(sandbox, "--audit-log", str(audit), str(tmp_path / "d")).code == 0
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(x["attempt"], x["outcome"]) for x in lines] == [
        (1, "sent"),
        (1, "ThrottlingException"),
        (2, "sent"),
        (2, "ok"),
    ]
    assert all(x["membershipIdentifier"] == mid and x["fields"] == {"queryLogStatus": "ENABLED"} for x in lines)
    answers = [x for x in lines if x["outcome"] != "sent"]
    assert all(len(x["requestId"]) == 36 and x["time"].endswith("+00:00") for x in answers)


def test_sigterm_finishes_writes_in_flight_and_starts_no_new_ones(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    ids = [sandbox.create_membership(f"c{i}") for i in range(4)]
    for i, mid in enumerate(ids):
        write_desired(tmp_path, f"m{i}.yaml", mid, queryLogStatus="ENABLED")
    sandbox.set_latency(0.5, operations=["UpdateMembership"])
    proc = spawn(["--parallelism", "1", "apply", "--auto-approve", str(tmp_path)], sandbox.client_env())
    deadline = time.monotonic() + 30
    while not sandbox.requests("UpdateMembership") and time.monotonic() < deadline:
        time.sleep(0.02)
    # The first write's request is logged once answered; the second is now in flight.
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "SIGTERM: finishing writes in flight, starting no new ones" in stderr
    sent = len(sandbox.requests("UpdateMembership"))
    assert 1 <= sent <= 2
    assert f"Apply: {sent} applied, 0 already converged, 0 failed, {4 - sent} not started." in stdout
    assert sum(sandbox.membership(mid)["queryLogStatus"] == "ENABLED" for mid in ids) == sent


def run_on_terminal(sandbox: CleanRoomsSandbox, args: list[str], answer: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin (as a person would) and type `answer` at the prompt."""
    import os
    import pty

    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        env=subprocess_env(sandbox.client_env()),
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    os.close(terminal)
    os.write(controller, f"{answer}\n".encode())
    output, _ = proc.communicate(timeout=60)
    os.close(controller)
    return proc.returncode, output


def test_on_a_terminal_apply_asks_and_only_yes_applies(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("a")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    code, output = run_on_terminal(sandbox, ["apply", str(tmp_path)], "y")
    assert code == 1
    assert "Apply changes to 1 membership(s)? Only 'yes' will be accepted" in output
    assert "apply cancelled; nothing was changed" in output
    assert writes(sandbox) == []
    code, output = run_on_terminal(sandbox, ["apply", str(tmp_path)], "yes")
    assert code == 0, output
    assert writes(sandbox) == [{"queryLogStatus": "ENABLED"}]


def test_logging_changes_that_take_time_to_show_are_applied_with_a_note(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="DISABLED", defaultJobResultConfiguration=job_results("a-b"))
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED", defaultJobResultConfiguration=job_results("c-d"))
    sandbox.set_log_propagation_delay(30)
    result = apply(sandbox, str(tmp_path))
    assert result.code == 0, result.stdout + result.stderr
    assert (
        f"applied: {mid} ({tmp_path}/a.yaml, us-east-1) fields queryLogStatus, defaultJobResultConfiguration: "
        "queryLogStatus accepted but not showing yet: logging changes take minutes to propagate"
    ) in result.stdout
    assert sandbox.membership(mid)["queryLogStatus"] == "ENABLED"
    # Until it shows, a plan sees the old value: the one field is planned (and would be sent) again.
    replan = run_cli(["plan", "--format", "json", str(tmp_path)], env=sandbox.client_env())
    assert json.loads(replan.stdout)["changes"][0]["fields"] == {
        "queryLogStatus": {"before": "DISABLED", "after": "ENABLED", "origin": "file"}
    }


def test_a_result_configuration_the_service_did_not_take_fails_verification(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme")
    write_desired(tmp_path, "a.yaml", mid, defaultJobResultConfiguration=job_results("wanted-bucket"))
    # The concurrent writer lands after our write is applied and before the answer: what comes back differs.
    sandbox.inject(
        "UpdateMembership",
        sequence=[
            Fault(
                200, concurrent_write={"defaultJobResultConfiguration": job_results("other-bucket")}, after_apply=True
            )
        ],
    )
    result = apply(sandbox, str(tmp_path))
    assert result.code == 1
    assert "not verified: the service returned other values for defaultJobResultConfiguration" in result.stdout


def test_after_sigkill_every_write_that_reached_the_service_has_a_sent_line(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    ids = [sandbox.create_membership(f"c{i}") for i in range(200)]
    for i, mid in enumerate(ids):
        write_desired(tmp_path / "d", f"m{i:03}.yaml", mid, queryLogStatus="ENABLED")
    sandbox.set_latency(0.05, operations=["UpdateMembership"])
    audit = tmp_path / "audit" / "log.jsonl"
    args = ["apply", "--auto-approve", "--audit-log", str(audit), str(tmp_path / "d")]
    proc = spawn(args, sandbox.client_env(), quiet=True)
    deadline = time.monotonic() + 60
    while len(sandbox.requests("UpdateMembership")) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.kill()
    proc.wait(timeout=30)
    time.sleep(0.3)  # writes the process sent before dying still reach the endpoint
    reached = {r.membership_id for r in sandbox.requests("UpdateMembership")}
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    sent = {x["membershipIdentifier"] for x in lines if x["outcome"] == "sent"}
    assert 40 <= len(reached) < 200
    assert reached <= sent
    assert all(x["fields"] == {"queryLogStatus": "ENABLED"} for x in lines)
    # A re-run finishes the job and sends nothing twice.
    sandbox.set_latency(0.0)
    sandbox.clear_requests()
    assert apply(sandbox, "--audit-log", str(audit), str(tmp_path / "d")).code == 0
    assert not reached & {r.membership_id for r in sandbox.requests("UpdateMembership")}
    assert all(sandbox.membership(mid)["queryLogStatus"] == "ENABLED" for mid in ids)


def saved_plan_of(sandbox: CleanRoomsSandbox, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    mid = sandbox.create_membership("a")
    write_desired(tmp_path / "d", "a.yaml", mid, defaultResultConfiguration=query_results("good-bucket"))
    saved = tmp_path / "plan.json"
    assert run_cli(["plan", "--out", str(saved), str(tmp_path / "d")], env=sandbox.client_env()).code == 0
    document: dict[str, Any] = json.loads(saved.read_text())
    return mid, document


def edited(document: dict[str, Any], edit: str) -> Any:
    changed = json.loads(json.dumps(document))
    change = changed["changes"][0]
    field = change["fields"]["defaultResultConfiguration"]
    if edit == "list":
        return []
    if edit == "null":
        return None
    if edit == "fields-as-list":
        change["fields"] = [field]
    elif edit == "extra-key":
        change["note"] = "hello"
    elif edit == "bad-bucket":
        field["after"]["outputConfiguration"]["s3"]["bucket"] = "Not A Valid Bucket!"
    elif edit == "twice":
        changed["changes"].append(change)
    elif edit == "unknown-field":
        change["fields"]["isMetricsEnabled"] = {"before": False, "after": True}
    return changed


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("list", "the top level: must be an object with formatVersion and changes"),
        ("null", "the top level: must be an object with formatVersion and changes"),
        ("fields-as-list", "changes[0].fields: must be an object"),
        ("extra-key", "changes[0].note: unknown key"),
        ("bad-bucket", "changes[0].fields.defaultResultConfiguration.after.outputConfiguration.s3.bucket: must be"),
        ("twice", "changes[1]: membership {mid} is already planned in changes[0]"),
        ("unknown-field", "changes[0].fields.isMetricsEnabled: not a field UpdateMembership or tagging can change"),
    ],
)
def test_a_saved_plan_is_validated_like_desired_state_before_any_call(
    sandbox: CleanRoomsSandbox, tmp_path: Path, edit: str, message: str
) -> None:
    mid, document = saved_plan_of(sandbox, tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(edited(document, edit)))
    sandbox.clear_requests()
    result = apply(sandbox, "--plan", str(bad))
    assert result.code == 1
    assert f"{bad}: {message.format(mid=mid)}" in result.stderr, result.stderr
    assert f"error: {bad} is not a valid saved plan; nothing was applied" in result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox.requests() == []


def test_a_saved_plan_whose_file_changed_since_is_applied_as_reviewed_and_says_so(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid, _ = saved_plan_of(sandbox, tmp_path)
    write_desired(tmp_path / "d", "a.yaml", mid, defaultResultConfiguration=query_results("edited-bucket"))
    result = apply(sandbox, "--plan", str(tmp_path / "plan.json"))
    assert result.code == 0, result.stderr
    assert (
        f"note: {tmp_path}/d/a.yaml changed since the plan was made; the saved plan is applied as reviewed "
        "(run plan again to include the edit)"
    ) in result.stderr
    assert writes(sandbox) == [{"defaultResultConfiguration": query_results("good-bucket")}]


def test_a_hundred_memberships_converge_under_a_quota_of_five_calls_a_second(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    # The default quota third parties report, over reads and writes alike; no retry option is loosened. The
    # plan's reads are the first half of the run: apply plans first.
    ids = [sandbox.create_membership(f"c{i}") for i in range(100)]
    for i, mid in enumerate(ids):
        write_desired(tmp_path, f"m{i:03d}.yaml", mid, queryLogStatus="ENABLED")
    sandbox.set_rate_limit(5)
    result = run_cli(["apply", "--auto-approve", str(tmp_path)], env=sandbox.client_env())
    assert result.code == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.count("applied: ") == 100
    assert all(sandbox.membership(mid)["queryLogStatus"] == "ENABLED" for mid in ids)
    statuses = [r.status for r in sandbox.requests()]
    assert set(statuses) == {200, 429}
    # The plan's 100 reads, then 100 writes: nothing read twice or resent after a success.
    answered = [r.operation for r in sandbox.requests() if r.status == 200]
    assert answered == ["GetMembership"] * 100 + ["UpdateMembership"] * 100
