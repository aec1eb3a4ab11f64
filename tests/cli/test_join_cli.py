"""A membership's whole life from git, end to end as a user runs the CLI, against the local endpoint: a file
that names its collaboration, a join of an invitation with every setting in one CreateMembership, the errors
that write nothing (not invited, a stale saved join), and the invitations no file joins."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.sandbox import THROTTLE, CleanRoomsSandbox, Fault

from ..helpers import Result, job_results, run_cli, write_desired

OURS = "123456789012"  # the sandbox's own account (CleanRoomsSandbox's default)
ROLE = "arn:aws:iam::123456789012:role/CleanRoomsJobResults"


def cli(sandbox: CleanRoomsSandbox, *args: str) -> Result:
    return run_cli(list(args), env=sandbox.client_env())


def join_file(directory: Path, collaboration: str, **settings: object) -> Path:
    path = directory / "join.yaml"
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"collaborationIdentifier: {collaboration}", f'accountId: "{OURS}"']
    lines += [f"{key}: {json.dumps(value)}" for key, value in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_file_naming_its_collaboration_manages_the_membership_in_it(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme")
    collaboration = sandbox.membership(mid)["collaborationId"]
    (tmp_path / "a.yaml").write_text(f"collaborationIdentifier: {collaboration}\nqueryLogStatus: ENABLED\n")
    plan = cli(sandbox, "plan", "--format", "json", str(tmp_path))
    assert plan.code == 0, plan.stdout + plan.stderr
    [change] = json.loads(plan.stdout)["changes"]
    assert change["membershipIdentifier"] == mid and "join" not in change
    assert [r.operation for r in sandbox.requests()] == ["ListCollaborations", "GetMembership"]
    assert cli(sandbox, "apply", "--auto-approve", str(tmp_path)).code == 0
    assert sandbox.membership(mid)["queryLogStatus"] == "ENABLED"

    # Naming both: they must agree.
    other = sandbox.create_membership("globex")
    (tmp_path / "a.yaml").write_text(f"membershipIdentifier: {other}\ncollaborationIdentifier: {collaboration}\n")
    disagree = cli(sandbox, "plan", str(tmp_path))
    assert disagree.code == 1
    assert (
        f"membershipIdentifier is {other}, but the account's membership in collaboration {collaboration} (acme) "
        f"is {mid}" in disagree.stdout
    )


def test_an_invitation_is_joined_with_every_setting_in_one_call_and_then_plans_no_change(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    collaboration = sandbox.invite("retail-measurement", creator_name="Globex", creator_account="999988887777")
    settings = {
        "queryLogStatus": "ENABLED",
        "jobLogStatus": "ENABLED",
        "defaultJobResultConfiguration": job_results("ours-jobs", ROLE),
        "isMetricsEnabled": True,
        "tags": {"cost-centre": "cc-1"},
    }
    join_file(tmp_path, collaboration, **settings)

    shown = cli(sandbox, "plan", str(tmp_path))
    assert shown.code == 0, shown.stdout + shown.stderr
    assert (
        f"+ join collaboration retail-measurement (invited by Globex, account 999988887777) ({tmp_path}/join.yaml, "
        f"{OURS}/us-east-1)" in shown.stdout
    )
    assert '    + queryLogStatus: "ENABLED"' in shown.stdout and "    + isMetricsEnabled: true" in shown.stdout
    assert "Plan: 1 membership, 1 to change, 0 unchanged." in shown.stdout
    plan = json.loads(cli(sandbox, "plan", "--format", "json", str(tmp_path)).stdout)
    [change] = plan["changes"]
    assert change["membershipIdentifier"] == "" and change["join"]["collaborationIdentifier"] == collaboration
    assert sandbox.requests("CreateMembership") == []

    audit = tmp_path / "audit.jsonl"
    receipt = tmp_path / "receipt.json"
    applied = cli(
        sandbox, "apply", "--auto-approve", "--audit-log", str(audit), "--receipt", str(receipt), str(tmp_path)
    )
    assert applied.code == 0, applied.stdout + applied.stderr
    [create] = sandbox.requests("CreateMembership")
    assert create.body == {
        "collaborationIdentifier": collaboration,
        **{k: v for k, v in settings.items()},
    }
    joined = sandbox.collaboration(collaboration)["membershipId"]
    live = sandbox.membership(joined)
    assert (live["queryLogStatus"], live["jobLogStatus"], live["isMetricsEnabled"]) == ("ENABLED", "ENABLED", True)
    assert sandbox.tags(joined) == {"cost-centre": "cc-1"}
    assert [r.operation for r in sandbox.requests() if r.method != "GET"] == ["CreateMembership"]
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["operation"], r["outcome"], r.get("createdMembershipIdentifier")) for r in records] == [
        ("CreateMembership", "sent", None),
        ("CreateMembership", "ok", joined),
    ]
    [entry] = json.loads(receipt.read_text())["memberships"]
    assert (entry["outcome"], entry["createdMembershipIdentifier"]) == ("applied", joined)

    again = cli(sandbox, "plan", "--detailed-exitcode", str(tmp_path))
    assert again.code == 0 and "No changes." in again.stdout, again.stdout


def test_not_invited_or_incomplete_join_files_are_plan_errors_and_nothing_is_written(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    stranger = "0b7e4c1a-1111-4222-8333-444455556666"
    join_file(tmp_path / "a", stranger, queryLogStatus="ENABLED")
    refused = cli(sandbox, "apply", "--auto-approve", str(tmp_path / "a"))
    assert refused.code == 1
    assert f"collaboration {stranger}: {OURS}/us-east-1 is neither invited to it nor a member of it" in refused.stdout
    invited = sandbox.invite("payers", payment={"queryCompute": {"isResponsible": True}})
    join_file(tmp_path / "b", invited)  # no queryLogStatus, and does not accept paying for queries
    incomplete = cli(sandbox, "plan", str(tmp_path / "b"))
    assert incomplete.code == 1
    assert "joining collaboration 'payers'" in incomplete.stdout
    assert "needs queryLogStatus (ENABLED or DISABLED): CreateMembership requires it" in incomplete.stdout
    assert (
        "the collaboration's creator designated this member to pay for query compute, which a join must accept: "
        "membershipPaymentConfiguration.queryCompute.isResponsible: true" in incomplete.stdout
    )
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "j.yaml").write_text(f"collaborationIdentifier: {invited}\nqueryLogStatus: ENABLED\n")
    unnamed = cli(sandbox, "plan", str(tmp_path / "c"))
    assert "the file must name the account that joins (accountId, quoted)" in unnamed.stdout
    assert sandbox.requests("CreateMembership") == []


def test_a_saved_join_is_refused_when_someone_joined_meanwhile(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    collaboration = sandbox.invite("retail")
    join_file(tmp_path / "d", collaboration, queryLogStatus="DISABLED")
    saved = tmp_path / "plan.json"
    assert cli(sandbox, "plan", "--out", str(saved), str(tmp_path / "d")).code == 0
    # Someone joins in the console.
    assert cli(sandbox, "apply", "--auto-approve", str(tmp_path / "d")).code == 0
    sandbox.clear_requests()
    stale = cli(sandbox, "apply", "--auto-approve", "--plan", str(saved))
    assert stale.code == 1
    assert f"the account joined collaboration {collaboration} (retail) meanwhile" in stale.stderr
    assert sandbox.requests("CreateMembership") == []


def test_a_throttled_join_is_resent_and_an_unknown_outcome_is_read_before_anything_is_resent(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    first = sandbox.invite("one")
    join_file(tmp_path / "e", first, queryLogStatus="ENABLED")
    sandbox.inject("CreateMembership", sequence=[THROTTLE])
    applied = cli(sandbox, "apply", "--auto-approve", "--retry-base-delay", "0.01", str(tmp_path / "e"))
    assert applied.code == 0, applied.stdout + applied.stderr
    assert [r.status for r in sandbox.requests("CreateMembership")] == [429, 200]

    second = sandbox.invite("two")
    join_file(tmp_path / "f", second, queryLogStatus="ENABLED")
    sandbox.clear_requests()
    sandbox.inject("CreateMembership", sequence=[Fault(500, after_apply=True)])
    confirmed = cli(sandbox, "apply", "--auto-approve", "--retry-base-delay", "0.01", str(tmp_path / "f"))
    assert confirmed.code == 0, confirmed.stdout + confirmed.stderr
    assert "confirmed by a read after an unknown outcome" in confirmed.stdout
    assert [r.status for r in sandbox.requests("CreateMembership")] == [500]
    assert sandbox.collaboration(second)["memberStatus"] == "ACTIVE"


def test_drift_lists_the_invitations_no_file_joins(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="DISABLED")
    pending = sandbox.invite("pending-one", creator_name="Initech", creator_account="444455556666")
    joined_by_file = sandbox.invite("joined-by-a-file")
    join_file(tmp_path / "more", joined_by_file, queryLogStatus="ENABLED")
    report = cli(sandbox, "drift", "--report-unmanaged", "--format", "json", str(tmp_path))
    assert report.code == 2, report.stdout + report.stderr  # the join file is drift until it is applied
    [invitation] = json.loads(report.stdout)["invitations"]
    assert (invitation["collaborationIdentifier"], invitation["creatorDisplayName"]) == (pending, "Initech")
    assert invitation["invitedAt"]
    text = cli(sandbox, "drift", "--report-unmanaged", str(tmp_path))
    assert "Invitations: 1 pending invitation(s) no file joins" in text.stdout
    assert f"? collaboration pending-one ({pending}), invited by Initech, account 444455556666 since " in text.stdout


def test_import_by_collaboration_names_the_collaboration_and_plans_no_change(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="ENABLED")
    collaboration = sandbox.membership(mid)["collaborationId"]
    out = tmp_path / "desired-state"
    imported = cli(sandbox, "import", "--membership", mid, "--by-collaboration", "--out-dir", str(out))
    assert imported.code == 0, imported.stdout + imported.stderr
    [written] = out.glob("*.yaml")
    text = written.read_text()
    assert f"\ncollaborationIdentifier: {collaboration}\n" in text and "membershipIdentifier" not in text
    again = cli(sandbox, "plan", "--detailed-exitcode", str(out))
    assert again.code == 0 and "No changes." in again.stdout, again.stdout


def test_joins_count_against_max_changes_like_any_change(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    for name in ("one", "two"):
        join_file(tmp_path / name, sandbox.invite(name), queryLogStatus="ENABLED")
        (tmp_path / name / "join.yaml").rename(tmp_path / f"{name}.yaml")
    refused = cli(sandbox, "apply", "--auto-approve", "--max-changes", "1", str(tmp_path))
    assert refused.code == 1
    assert "2 memberships would change, more than --max-changes 1; nothing was applied" in refused.stderr
    assert sandbox.requests("CreateMembership") == []
