"""reconciler.yaml end to end, as a user runs the CLI against the local endpoint: policies and the account
allow-list stop validate (and so plan and apply) with file and line; shared defaults reach the plan with
their origin; import leaves out what the defaults give; maxChangesPercent refuses a mass change."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.sandbox import ACCOUNT_ID, CleanRoomsSandbox

from ..helpers import Result, run_cli, write_desired

# The example, word for word.
EXAMPLE = """\
accounts: ["111122223333", "444455556666"]      # allow-list: a file naming any other accountId is invalid
policies:
  - name: query-logging-on
    rule: "membership.queryLogStatus == 'ENABLED'"       # CEL over the effective desired settings
    message: query logging must stay on in every membership
  - name: results-in-our-buckets
    rule: "!has(membership.defaultResultConfiguration) || membership.defaultResultConfiguration.outputConfiguration.s3.bucket.startsWith('acme-')"
defaults:
  - paths: ["partners/**"]                              # globs relative to the desired-state directory
    settings:
      jobLogStatus: ENABLED
maxChangesPercent: 30                                   # refuse larger applies unless --force
"""  # noqa: E501 (the rule is one long line in the issue too)
OURS = "111122223333"
TEMPLATE = "arn:aws:iam::{accountId}:role/cleanrooms-reconciler"


def cli(sandbox: CleanRoomsSandbox, cwd: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    # Memberships in the allowed accounts are reached through a role in each, as in production.
    variables = sandbox.client_env() | {"RECONCILER_ASSUME_ROLE_TEMPLATE": TEMPLATE} | (env or {})
    return run_cli(list(args), env=variables, cwd=cwd)


def repository(tmp_path: Path, config: str = EXAMPLE) -> Path:
    (tmp_path / "reconciler.yaml").write_text(config)
    (tmp_path / "desired-state").mkdir()
    return tmp_path


def test_a_file_with_query_logging_off_fails_validate_at_its_line_and_apply_writes_nothing(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    root = repository(tmp_path)
    mid = sandbox.create_membership("acme", account_id=OURS, queryLogStatus="ENABLED")
    write_desired(root / "desired-state", "acme.yaml", mid, accountId=OURS, queryLogStatus="DISABLED")

    validate = cli(sandbox, root, "validate")
    assert validate.code == 1
    assert validate.stdout.splitlines() == [
        "desired-state/acme.yaml:3:1: policy query-logging-on: query logging must stay on in every membership"
    ]
    apply = cli(sandbox, root, "apply", "--auto-approve")
    assert apply.code == 1
    assert "desired-state/acme.yaml:3:1: policy query-logging-on" in apply.stderr
    assert "1 problem(s) in the desired state; nothing was read or changed" in apply.stderr
    assert sandbox.requests() == []  # not even a read


def test_a_violation_is_a_github_annotation_on_the_offending_line(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    root = repository(tmp_path)
    mid = sandbox.create_membership("acme")
    bucket = {"roleArn": "arn:aws:iam::111122223333:role/CleanRoomsResults"} | {
        "outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "their-bucket"}}
    }
    path = root / "desired-state" / "acme.yaml"
    path.write_text(
        f"membershipIdentifier: {mid}\nqueryLogStatus: ENABLED\ndefaultResultConfiguration:\n"
        f"  roleArn: {bucket['roleArn']}\n  outputConfiguration:\n    s3:\n      resultFormat: CSV\n"
        "      bucket: their-bucket\n"
    )
    validate = cli(sandbox, root, "validate", env={"GITHUB_ACTIONS": "true"})
    assert validate.code == 1
    rule = EXAMPLE.splitlines()[6].split('rule: "')[1].rstrip('"')
    assert validate.stdout.splitlines() == [
        f"desired-state/acme.yaml:8:7: policy results-in-our-buckets: the rule {rule!r} is false for this membership",
        "::error file=desired-state/acme.yaml,line=8,col=7::policy results-in-our-buckets: the rule "
        f"{rule!r} is false for this membership",
    ]


def test_an_account_outside_the_allow_list_fails_validate_and_a_file_without_one_fails_plan(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    root = repository(tmp_path)
    elsewhere = sandbox.create_membership("elsewhere", account_id="999999999999", queryLogStatus="ENABLED")
    write_desired(root / "desired-state", "x.yaml", elsewhere, accountId="999999999999", queryLogStatus="ENABLED")
    validate = cli(sandbox, root, "validate")
    assert validate.code == 1
    assert validate.stdout.splitlines() == [
        "desired-state/x.yaml:2:1: accountId: account 999999999999 is not in the accounts allow-list of "
        "reconciler.yaml (111122223333, 444455556666)"
    ]

    # No accountId: the file reaches the caller's own account, which is not listed either.
    (root / "desired-state" / "x.yaml").unlink()
    mine = sandbox.create_membership("mine", queryLogStatus="ENABLED")
    write_desired(root / "desired-state", "mine.yaml", mine, queryLogStatus="ENABLED")
    assert cli(sandbox, root, "validate").code == 0
    plan = cli(sandbox, root, "plan")
    assert plan.code == 1
    assert (
        f"desired-state/mine.yaml: membership {mine}: the membership is in account {ACCOUNT_ID}, which "
        "reconciler.yaml's accounts allow-list does not list (111122223333, 444455556666)" in plan.stdout
    )
    assert cli(sandbox, root, "apply", "--auto-approve").code == 1
    assert sandbox.requests("UpdateMembership") == []


def test_defaults_reach_files_under_their_glob_only_and_the_plan_says_so(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    root = repository(tmp_path)
    partner = sandbox.create_membership("partner", account_id=OURS, queryLogStatus="ENABLED", jobLogStatus="DISABLED")
    own = sandbox.create_membership("own", account_id=OURS, queryLogStatus="ENABLED", jobLogStatus="DISABLED")
    write_desired(root / "desired-state", "partners/p.yaml", partner, accountId=OURS, queryLogStatus="ENABLED")
    write_desired(root / "desired-state", "own.yaml", own, accountId=OURS, queryLogStatus="ENABLED")

    text = cli(sandbox, root, "plan")
    assert text.code == 0, text.stdout + text.stderr
    assert '    ~ jobLogStatus: "DISABLED" -> "ENABLED"   # from defaults[0] (partners/**)' in text.stdout
    assert f"membership {own}" not in text.stdout
    report = json.loads(cli(sandbox, root, "plan", "--format", "json").stdout)
    [change] = report["changes"]
    assert change["membershipIdentifier"] == partner
    assert change["fields"] == {
        "jobLogStatus": {"before": "DISABLED", "after": "ENABLED", "origin": "defaults[0] (partners/**)"}
    }
    markdown = cli(sandbox, root, "plan", "--format", "markdown").stdout
    assert '~ jobLogStatus: "DISABLED" -> "ENABLED"   # from defaults[0] (partners/**)' in markdown

    # One file, named directly, sees the same defaults as the directory.
    alone = cli(sandbox, root, "plan", "--format", "json", "desired-state/partners/p.yaml")
    assert json.loads(alone.stdout)["changes"][0]["fields"]["jobLogStatus"]["after"] == "ENABLED"

    # The file wins over the defaults.
    write_desired(
        root / "desired-state",
        "partners/p.yaml",
        partner,
        accountId=OURS,
        queryLogStatus="ENABLED",
        jobLogStatus="DISABLED",
    )
    assert "No changes." in cli(sandbox, root, "plan").stdout


def test_the_most_specific_glob_wins_and_equally_specific_ones_that_disagree_are_an_error(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    config = (
        "defaults:\n"
        "  - paths: ['**']\n    settings: {jobLogStatus: DISABLED, queryLogStatus: ENABLED}\n"
        "  - paths: ['partners/**']\n    settings: {jobLogStatus: ENABLED}\n"
        "  - paths: ['partners/*.yaml']\n    settings: {jobLogStatus: DISABLED}\n"
        "  - paths: ['partners/?.yaml']\n    settings: {jobLogStatus: ENABLED}\n"
    )
    root = repository(tmp_path, config)
    mid = sandbox.create_membership("p", queryLogStatus="DISABLED", jobLogStatus="DISABLED")
    write_desired(root / "desired-state", "partners/deep/p.yaml", mid)
    plan = json.loads(cli(sandbox, root, "plan", "--format", "json").stdout)
    assert plan["changes"][0]["fields"] == {
        "queryLogStatus": {"before": "DISABLED", "after": "ENABLED", "origin": "defaults[0] (**)"},
        "jobLogStatus": {"before": "DISABLED", "after": "ENABLED", "origin": "defaults[1] (partners/**)"},
    }

    (root / "desired-state" / "partners" / "deep" / "p.yaml").rename(root / "desired-state" / "partners" / "p.yaml")
    validate = cli(sandbox, root, "validate")
    assert validate.code == 1
    assert validate.stdout.splitlines() == [
        "desired-state/partners/p.yaml:1:1: defaults[2] (partners/*.yaml) and defaults[3] (partners/?.yaml) in "
        "reconciler.yaml match this file equally specifically and both set jobLogStatus: make one glob more specific"
    ]


def test_defaults_complete_a_result_configuration_and_a_policy_sees_the_effective_settings(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    config = EXAMPLE.replace(
        "      jobLogStatus: ENABLED\n",
        "      jobLogStatus: ENABLED\n"
        "      defaultResultConfiguration:\n"
        "        outputConfiguration: {s3: {resultFormat: PARQUET, bucket: other-results}}\n",
    )
    root = repository(tmp_path, config)
    mid = sandbox.create_membership("p", account_id=OURS, queryLogStatus="ENABLED")
    role = "arn:aws:iam::111122223333:role/CleanRoomsResults"
    write_desired(
        root / "desired-state",
        "partners/p.yaml",
        mid,
        queryLogStatus="ENABLED",
        defaultResultConfiguration={"roleArn": role},
    )
    validate = cli(sandbox, root, "validate")
    assert validate.code == 1
    # The bucket comes from the defaults: the violation is the file's, and says where the value came from.
    assert validate.stdout.splitlines() == [
        "desired-state/partners/p.yaml:3:1: policy results-in-our-buckets: the rule "
        f"{EXAMPLE.splitlines()[6].split('rule: ')[1][1:-1]!r} is false for this membership (the value comes from "
        "file + defaults[0] (partners/**) in reconciler.yaml)"
    ]


def test_import_writes_only_what_differs_from_the_defaults_that_match_the_new_file(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    root = repository(
        tmp_path, "defaults:\n  - paths: ['**']\n    settings: {jobLogStatus: ENABLED, queryLogStatus: ENABLED}\n"
    )
    mid = sandbox.create_membership("acme", queryLogStatus="DISABLED", jobLogStatus="ENABLED")
    imported = cli(sandbox, root, "import", "--membership", mid, "--out-dir", "desired-state")
    assert imported.code == 0, imported.stderr
    [written] = (root / "desired-state").glob("*.yaml")
    text = written.read_text()
    assert "queryLogStatus: DISABLED" in text and "jobLogStatus" not in text
    assert "No changes." in cli(sandbox, root, "plan").stdout


def test_max_changes_percent_refuses_a_mass_change_unless_forced(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    root = repository(tmp_path, "maxChangesPercent: 30\n")
    ids = [sandbox.create_membership(f"m{i}", queryLogStatus="DISABLED") for i in range(10)]
    for i, mid in enumerate(ids):
        write_desired(root / "desired-state", f"m{i}.yaml", mid, queryLogStatus="ENABLED" if i < 4 else "DISABLED")
    refused = cli(sandbox, root, "apply", "--auto-approve")
    assert refused.code == 1
    assert (
        "error: 4 of 10 memberships in default/us-east-1 would change (40%), more than maxChangesPercent 30 in "
        "reconciler.yaml; nothing was applied (check the plan, then apply again with --force if it is meant)"
        in refused.stderr
    )
    assert sandbox.requests("UpdateMembership") == []

    forced = cli(sandbox, root, "apply", "--auto-approve", "--force")
    assert forced.code == 0, forced.stderr
    assert "note: 4 of 10 memberships in default/us-east-1 change, past maxChangesPercent 30; --force" in forced.stderr
    assert len(sandbox.requests("UpdateMembership")) == 4


def test_three_of_ten_is_within_thirty_percent_and_nine_memberships_are_never_guarded(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    root = repository(tmp_path, "maxChangesPercent: 30\n")
    ids = [sandbox.create_membership(f"m{i}", queryLogStatus="DISABLED") for i in range(10)]
    for i, mid in enumerate(ids):
        write_desired(root / "desired-state", f"m{i}.yaml", mid, queryLogStatus="ENABLED" if i < 3 else "DISABLED")
    assert cli(sandbox, root, "apply", "--auto-approve").code == 0
    assert len(sandbox.requests("UpdateMembership")) == 3

    small = tmp_path / "small"
    small.mkdir()
    (small / "reconciler.yaml").write_text("maxChangesPercent: 0\n")
    few = [sandbox.create_membership(f"f{i}", queryLogStatus="DISABLED") for i in range(9)]
    for i, mid in enumerate(few):
        write_desired(small / "desired-state", f"f{i}.yaml", mid, queryLogStatus="ENABLED")
    assert cli(sandbox, small, "apply", "--auto-approve").code == 0


def test_a_config_that_does_not_hold_stops_every_command_before_any_call(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    root = repository(tmp_path, "policies:\n  - name: typo\n    rule: \"membership.queryLogStatus == 'ENABLED' &&\"\n")
    mid = sandbox.create_membership("acme")
    write_desired(root / "desired-state", "a.yaml", mid, queryLogStatus="ENABLED")
    validate = cli(sandbox, root, "validate")
    assert validate.code == 1
    [line] = validate.stdout.splitlines()
    assert line.startswith(
        "reconciler.yaml:3:11: policies.0.rule: does not compile: at column 42 of the rule: Syntax error"
    )
    assert "1 problem(s) in reconciler.yaml; no membership file was checked" in validate.stderr
    for command in (["plan"], ["apply", "--auto-approve"], ["drift"]):
        result = cli(sandbox, root, *command)
        assert result.code == 1 and "reconciler.yaml:3:11: policies.0.rule: does not compile" in result.stderr
    assert sandbox.requests() == []

    named = cli(sandbox, root, "--config", "missing.yaml", "validate")
    assert named.code == 1
    assert named.stdout == "missing.yaml:1:1: no such file: the organisation config (--config, RECONCILER_CONFIG)\n"
    variable = cli(sandbox, root, "validate", env={"RECONCILER_CONFIG": "also-missing.yaml"})
    assert variable.code == 1 and variable.stdout.startswith("also-missing.yaml:1:1: no such file")


def test_without_a_config_nothing_changes(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", account_id="999999999999", queryLogStatus="ENABLED")
    write_desired(tmp_path / "desired-state", "a.yaml", mid, accountId="999999999999", queryLogStatus="DISABLED")
    assert cli(sandbox, tmp_path, "validate").code == 0
    plan = json.loads(cli(sandbox, tmp_path, "plan", "--format", "json").stdout)
    assert plan["changes"][0]["fields"]["queryLogStatus"]["origin"] == "file"


def test_a_saved_plan_keeps_the_origin_and_applies_as_reviewed(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    root = repository(tmp_path)
    mid = sandbox.create_membership("partner", account_id=OURS, queryLogStatus="ENABLED", jobLogStatus="DISABLED")
    write_desired(root / "desired-state", "partners/p.yaml", mid, accountId=OURS, queryLogStatus="ENABLED")
    saved = cli(sandbox, root, "plan", "--out", "plan.json")
    assert saved.code == 0, saved.stderr
    fields = json.loads((root / "plan.json").read_text())["changes"][0]["fields"]
    assert fields["jobLogStatus"]["origin"] == "defaults[0] (partners/**)"

    shown = cli(sandbox, root, "render", "plan.json")
    assert '~ jobLogStatus: "DISABLED" -> "ENABLED"   # from defaults[0] (partners/**)' in shown.stdout
    applied = cli(sandbox, root, "apply", "--auto-approve", "--plan", "plan.json")
    assert applied.code == 0, applied.stderr
    assert [r.body for r in sandbox.requests("UpdateMembership")] == [{"jobLogStatus": "ENABLED"}]
