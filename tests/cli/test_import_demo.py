"""`reconciler import` round-trips to an empty plan; `reconciler demo` tells the whole story."""

from __future__ import annotations

from pathlib import Path

from reconciler.sandbox import CleanRoomsSandbox

from ..helpers import Result, job_results, query_results, run_cli

ROLE = "arn:aws:iam::123456789012:role/CleanRoomsQueryResults"


def cli(sandbox: CleanRoomsSandbox, *args: str, cwd: Path | None = None) -> Result:
    return run_cli(list(args), env=sandbox.client_env(), cwd=cwd)


def seed(sandbox: CleanRoomsSandbox) -> dict[str, str]:
    return {
        "full": sandbox.create_membership(
            "Acme Retail: Measurement",
            queryLogStatus="ENABLED",
            jobLogStatus="DISABLED",
            defaultResultConfiguration={**query_results("acme-results", "PARQUET", keyPrefix="r/"), "roleArn": ROLE},
            defaultJobResultConfiguration=job_results("acme-jobs", keyPrefix=""),
        ),
        "bare": sandbox.create_membership("globex", queryLogStatus="DISABLED"),
        "query-only": sandbox.create_membership(
            "initech", defaultResultConfiguration=query_results("initech-results", singleFileOutput=True)
        ),
    }


def test_import_all_round_trips_to_an_empty_plan(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    ids = seed(sandbox)
    sandbox.create_membership("left", status="REMOVED")
    result = cli(sandbox, "import", "--all", "--out-dir", "desired-state", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "Import: 3 of 3 membership(s) into desired-state" in result.stdout
    names = sorted(p.name for p in (tmp_path / "desired-state").iterdir())
    assert names == sorted(
        [
            f"acme-retail-measurement-{ids['full'][:8]}.yaml",
            f"globex-{ids['bare'][:8]}.yaml",
            f"initech-{ids['query-only'][:8]}.yaml",
        ]
    )
    full = (tmp_path / "desired-state" / names[0]).read_text()
    assert full.splitlines()[:6] == [
        "# yaml-language-server: $schema=../schema/membership.schema.json",
        f"membershipIdentifier: {ids['full']}",
        "region: us-east-1",
        "accountId: '123456789012'",
        "collaborationName: 'Acme Retail: Measurement'",
        "queryLogStatus: ENABLED",
    ]
    assert full.index("defaultResultConfiguration") < full.index("defaultJobResultConfiguration")
    assert full.index("roleArn") < full.index("outputConfiguration") < full.index("resultFormat")
    bare = (tmp_path / "desired-state" / names[1]).read_text()
    assert "ResultConfiguration" not in bare and "jobLogStatus" not in bare
    assert cli(sandbox, "validate", "desired-state", cwd=tmp_path).code == 0
    plan = cli(sandbox, "plan", "--detailed-exitcode", "desired-state", cwd=tmp_path)
    assert plan.code == 0, plan.stdout
    assert "Plan: 3 memberships, 0 to change, 3 unchanged." in plan.stdout
    assert sandbox.requests("UpdateMembership") == []


def test_overwrite_keeps_comments_and_order_and_converges(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    ids = seed(sandbox)
    assert cli(sandbox, "import", "--membership", ids["full"], "--out-dir", "d", cwd=tmp_path).code == 0
    [path] = (tmp_path / "d").iterdir()
    path.write_text(path.read_text().replace("queryLogStatus: ENABLED", "# audited: keep on\nqueryLogStatus: ENABLED"))
    sandbox.write(ids["full"], {"queryLogStatus": "DISABLED", "defaultResultConfiguration": query_results("moved")})
    kept = cli(sandbox, "import", "--membership", ids["full"], "--out-dir", "d", cwd=tmp_path)
    assert f"kept d/{path.name}: it exists (--overwrite updates it in place)" in kept.stdout
    assert "queryLogStatus: ENABLED" in path.read_text()
    updated = cli(sandbox, "import", "--membership", ids["full"], "--out-dir", "d", "--overwrite", cwd=tmp_path)
    assert f"updated d/{path.name}" in updated.stdout
    text = path.read_text()
    assert "# audited: keep on\nqueryLogStatus: DISABLED" in text
    assert "bucket: moved" in text and "roleArn: arn:aws:iam::123456789012:role/CleanRoomsQueryResults" not in text
    assert text.index("collaborationName") < text.index("queryLogStatus") < text.index("defaultJobResult")
    assert cli(sandbox, "plan", "--detailed-exitcode", "d", cwd=tmp_path).code == 0


def test_overwrite_finds_a_hand_named_file_by_its_membership(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    ids = seed(sandbox)
    (tmp_path / "d").mkdir()
    mine = tmp_path / "d" / "my-name.yaml"
    mine.write_text(f"# ours\nmembershipIdentifier: {ids['bare']}\nqueryLogStatus: ENABLED\n")
    result = cli(sandbox, "import", "--membership", ids["bare"], "--out-dir", "d", "--overwrite", cwd=tmp_path)
    assert result.code == 0
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["my-name.yaml"]
    assert mine.read_text() == (
        f"# ours\nmembershipIdentifier: {ids['bare']}\nqueryLogStatus: DISABLED\n"
        "membershipPaymentConfiguration:\n  queryCompute:\n    isResponsible: true\n"
    )


def test_import_refuses_what_it_cannot_import(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    removed = sandbox.create_membership("left", status="REMOVED")
    result = cli(sandbox, "import", "--membership", removed, "--out-dir", "d", cwd=tmp_path)
    assert result.code == 1
    assert f"error: {removed}: status is REMOVED; only ACTIVE memberships are imported" in result.stderr
    both = cli(sandbox, "import", "--all", "--membership", removed, cwd=tmp_path)
    assert both.code == 1 and "choose either --all or --membership" in both.stderr
    missing = cli(sandbox, "import", "--membership", "00000000-0000-4000-8000-000000000000", cwd=tmp_path)
    assert missing.code == 1 and "ResourceNotFoundException" in missing.stderr


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    result = run_cli(["demo"], cwd=tmp_path)
    assert result.code == 0, result.stdout + result.stderr
    titles = [line for line in result.stdout.splitlines() if line.startswith("== ")]
    assert titles == [
        "== 1. Validate the desired state (no AWS call)",
        "== 2. Plan: what would change",
        "== 3. Apply: send only the changed fields",
        "== 4. Plan again: nothing left to do",
        "== 5. Someone turns query logging off in the console for initech-supplier-insights",
        "== 6. Drift: the nightly check catches it (exit 2)",
    ]
    assert "Apply: 2 applied, 0 already converged, 0 failed, 0 not started." in result.stdout
    assert "Drift: 3 memberships, 1 drifted, 2 in sync." in result.stdout
    assert result.stdout.count("as expected") == 5
    assert result.stdout.rstrip().endswith("all against 127.0.0.1.")
