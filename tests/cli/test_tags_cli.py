"""Tags end to end, as a user runs the CLI, against the local endpoint: a file's `tags:` is the whole set (added,
changed and removed in one plan), AWS's own keys are never touched, a file without `tags:` makes no tag call,
throttled tag writes converge, and import round-trips them."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.sandbox import THROTTLE, CleanRoomsSandbox

from ..helpers import Result, run_cli, write_desired

LIVE = {"cost-centre": "cc-1", "team": "data", "stale": "x", "aws:cloudformation:stack-name": "cr"}
WANTED = {"cost-centre": "cc-2", "team": "data", "owner": "platform"}


def cli(sandbox: CleanRoomsSandbox, *args: str) -> Result:
    return run_cli(list(args), env=sandbox.client_env())


def test_tags_are_added_changed_and_removed_in_one_plan_and_aws_keys_are_kept(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme", tags=LIVE)
    write_desired(tmp_path, "a.yaml", mid, tags=WANTED)

    shown = cli(sandbox, "plan", str(tmp_path))
    assert shown.code == 0, shown.stdout + shown.stderr
    assert '    ~ tags:\n        ~ cost-centre: "cc-1" -> "cc-2"\n        + owner: "platform"\n' in shown.stdout
    assert '        - stale: "x"\n' in shown.stdout
    assert "aws:" not in shown.stdout
    plan = json.loads(cli(sandbox, "plan", "--format", "json", str(tmp_path)).stdout)
    [change] = plan["changes"]
    before = {k: v for k, v in LIVE.items() if not k.startswith("aws:")}
    tags = change["fields"]["tags"]
    assert (tags["before"], tags["after"], tags["origin"]) == (before, WANTED, "file")
    assert [(leaf["kind"], leaf["path"]) for leaf in tags["leaves"]] == [
        ("changed", "cost-centre"),
        ("added", "owner"),
        ("removed", "stale"),
    ]
    assert plan["summary"]["toChange"] == 1
    assert [r.operation for r in sandbox.requests()] == ["GetMembership", "ListTagsForResource"] * 2
    sandbox.clear_requests()

    audit = tmp_path / "audit.jsonl"
    applied = cli(sandbox, "apply", "--auto-approve", "--audit-log", str(audit), str(tmp_path))
    assert applied.code == 0, applied.stdout + applied.stderr
    assert sandbox.tags(mid) == {**WANTED, "aws:cloudformation:stack-name": "cr"}
    writes = [(r.operation, r.body, r.query) for r in sandbox.requests() if r.operation.endswith("Resource")]
    assert writes[1:] == [
        ("TagResource", {"tags": {"cost-centre": "cc-2", "owner": "platform"}}, ""),
        ("UntagResource", None, "tagKeys=stale"),
    ]
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["operation"], r["outcome"], r["fields"]) for r in records] == [
        ("TagResource", "sent", {"tags": {"cost-centre": "cc-2", "owner": "platform"}}),
        ("TagResource", "ok", {"tags": {"cost-centre": "cc-2", "owner": "platform"}}),
        ("UntagResource", "sent", {"tagKeys": ["stale"]}),
        ("UntagResource", "ok", {"tagKeys": ["stale"]}),
    ]
    again = cli(sandbox, "plan", "--detailed-exitcode", str(tmp_path))
    assert again.code == 0 and "No changes." in again.stdout


def test_a_file_without_tags_makes_no_tag_call_and_aws_keys_in_a_file_are_refused(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme", tags=LIVE)
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    assert cli(sandbox, "apply", "--auto-approve", str(tmp_path)).code == 0
    assert [r.operation for r in sandbox.requests()] == ["GetMembership", "UpdateMembership"]
    assert sandbox.tags(mid) == LIVE

    bad = tmp_path / "bad"
    bad.mkdir()
    write_desired(bad, "b.yaml", mid, tags={"aws:owner": "me", "ok": "1"})
    refused = cli(sandbox, "validate", str(bad))
    assert refused.code == 1
    assert f"{bad}/b.yaml:2:8: tags.aws:owner: " in refused.stdout  # the key, in a flow mapping
    assert "tag keys beginning 'aws:' are AWS's own and cannot be managed" in refused.stdout


def test_throttled_tag_writes_converge_and_a_settings_change_goes_first(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme", tags={"old": "1"})
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED", tags={"new": "2"})
    sandbox.inject("TagResource", sequence=[THROTTLE, THROTTLE])
    sandbox.inject("UntagResource", sequence=[THROTTLE])
    applied = cli(sandbox, "apply", "--auto-approve", "--retry-base-delay", "0.01", str(tmp_path))
    assert applied.code == 0, applied.stdout + applied.stderr
    writes = [(r.operation, r.status) for r in sandbox.requests() if r.method != "GET"]
    assert writes == [
        ("UpdateMembership", 200),
        ("TagResource", 429),
        ("TagResource", 429),
        ("TagResource", 200),
        ("UntagResource", 429),
        ("UntagResource", 200),
    ]
    assert sandbox.tags(mid) == {"new": "2"}
    assert sandbox.membership(mid)["queryLogStatus"] == "ENABLED"


def test_import_writes_the_tags_and_the_written_file_plans_no_change(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    tagged = sandbox.create_membership("acme", tags=LIVE)
    untagged = sandbox.create_membership("globex")
    out = tmp_path / "desired-state"
    imported = cli(sandbox, "import", "--all", "--out-dir", str(out))
    assert imported.code == 0, imported.stdout + imported.stderr
    files = {path.name: path.read_text() for path in out.iterdir()}
    [tagged_text] = [text for text in files.values() if tagged in text]
    [untagged_text] = [text for text in files.values() if untagged in text]
    assert "tags:\n  cost-centre: cc-1\n  stale: x\n  team: data\n" in tagged_text
    assert "aws:" not in tagged_text and "tags" not in untagged_text
    again = cli(sandbox, "plan", "--detailed-exitcode", str(out))
    assert again.code == 0 and "No changes." in again.stdout


def test_default_tags_merge_per_key_and_a_policy_reads_them(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "defaults:\n"
        "  - paths: ['**']\n"
        "    settings: {tags: {cost-centre: cc-0, team: shared}}\n"
        "policies:\n"
        "  - name: cost-centre\n"
        "    rule: \"has(membership.tags) && membership.tags['cost-centre'].startsWith('cc-')\"\n"
    )
    desired = tmp_path / "desired-state"
    mid = sandbox.create_membership("acme", tags={"cost-centre": "cc-0"})
    write_desired(desired, "a.yaml", mid, tags={"team": "data"})
    env = sandbox.client_env()
    plan = run_cli(["plan", "--format", "json"], env=env, cwd=tmp_path)
    assert plan.code == 0, plan.stdout + plan.stderr
    [change] = json.loads(plan.stdout)["changes"]
    tags = change["fields"]["tags"]
    assert tags["after"] == {"cost-centre": "cc-0", "team": "data"}
    assert tags["origin"] == "file + defaults[0] (**)"

    write_desired(desired, "a.yaml", mid, tags={"cost-centre": "finance"})
    refused = run_cli(["validate"], env=env, cwd=tmp_path)
    assert refused.code == 1
    assert "desired-state/a.yaml:2:1: policy cost-centre: the rule" in refused.stdout
