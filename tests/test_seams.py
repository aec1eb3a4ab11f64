"""Safety at the seams (issue 23): nothing unreviewed is written, whichever path a change takes.

Each test is a hostile user's attempt that once wrote, printed or waited what it should not: a hand-edited
saved plan, a slice past a guard, text from a pull request in a terminal or a workflow command."""

from __future__ import annotations

import io
import json
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.core import render
from reconciler.core.api import Where
from reconciler.core.plan import FieldChange, MembershipChange, Plan, PlanError, Unmanaged
from reconciler.edges.github.rest import GitHub
from reconciler.sandbox import THROTTLE, CleanRoomsSandbox

from .fakegithub import BOT, FakeGitHub, running
from .helpers import Result, job_results, query_results, run_cli, spawn, subprocess_env, write_desired

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
    write_desired(
        tmp_path / "desired-state", "a.yaml", mid, defaultResultConfiguration=query_results("ours", "PARQUET")
    )
    data = saved_plan(sandbox, tmp_path)
    reviewed = data["changesHash"]
    data["changes"][0]["fields"]["defaultResultConfiguration"]["managed"] = ATTACKER
    rewrite(tmp_path, data)
    result = cli(sandbox, tmp_path, "apply", "--auto-approve", "--plan", "plan.json", "--expect-changes-hash", reviewed)
    assert result.code == 1
    assert "changes[0].fields.defaultResultConfiguration.managed" in result.stderr
    assert writes(sandbox) == []
    assert sandbox.membership(mid)["defaultResultConfiguration"] == query_results("ours", "CSV")


def refused_with_no_write(sandbox: CleanRoomsSandbox, root: Path, said: str) -> None:
    result = cli(sandbox, root, "apply", "--auto-approve", "--plan", "plan.json")
    assert result.code == 1
    assert said in result.stderr
    assert writes(sandbox) == []


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
    refused_with_no_write(sandbox, tmp_path, "managed: must be part of after")


def test_live_settings_edited_to_hide_staleness_are_refused(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="DISABLED")
    write_desired(tmp_path / "desired-state", "a.yaml", mid, queryLogStatus="ENABLED")
    data = saved_plan(sandbox, tmp_path)
    data["changes"][0]["liveSettings"] = {"queryLogStatus": "ENABLED"}
    rewrite(tmp_path, data)
    refused_with_no_write(sandbox, tmp_path, "liveSettings.queryLogStatus: must equal the field's before")


def test_edited_leaves_are_not_what_a_saved_plan_shows(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme", defaultResultConfiguration=query_results("ours", "CSV"))
    write_desired(
        tmp_path / "desired-state", "a.yaml", mid, defaultResultConfiguration=query_results("ours", "PARQUET")
    )
    data = saved_plan(sandbox, tmp_path)
    field = data["changes"][0]["fields"]["defaultResultConfiguration"]
    field["after"] = query_results("elsewhere", "PARQUET")
    field["leaves"] = [{"path": "outputConfiguration.s3.resultFormat", "before": "CSV", "after": "PARQUET"}]
    data.pop("changesHash")
    rewrite(tmp_path, data)
    shown = cli(sandbox, tmp_path, "render", "--format", "text", "plan.json")
    assert '~ outputConfiguration.s3.bucket: "ours" -> "elsewhere"' in shown.stdout


# -- 2, 6, 7. every path to a write passes the same guards on the same totals --------------------------


def many(sandbox: CleanRoomsSandbox, root: Path, count: int, changing: int, region: str = "us-east-1") -> list[str]:
    ids = []
    for i in range(count):
        mid = sandbox.create_membership(f"{region}-{i}", region=region, queryLogStatus="DISABLED")
        wanted = "ENABLED" if i < changing else "DISABLED"
        write_desired(root / "desired-state", f"{region}/m{i}.yaml", mid, region=region, queryLogStatus=wanted)
        ids.append(mid)
    return ids


def test_a_saved_plan_is_judged_on_the_whole_plan_it_came_from(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text("maxChangesPercent: 30\n")
    many(sandbox, tmp_path, 15, 9)
    saved_plan(sandbox, tmp_path)
    refused = cli(sandbox, tmp_path, "apply", "--auto-approve", "--plan", "plan.json")
    assert refused.code == 1
    assert "9 of 15 memberships in default/us-east-1 would change (60%), more than maxChangesPercent 30" in (
        refused.stderr
    )
    assert writes(sandbox) == []


def test_a_quarter_of_forty_in_a_saved_plan_is_within_thirty_percent(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    (tmp_path / "reconciler.yaml").write_text("maxChangesPercent: 30\n")
    many(sandbox, tmp_path, 40, 10)
    saved_plan(sandbox, tmp_path)
    applied = cli(sandbox, tmp_path, "apply", "--auto-approve", "--plan", "plan.json")
    assert applied.code == 0, applied.stderr
    assert len(writes(sandbox)) == 10


def test_slicing_by_target_or_membership_gets_no_more_past_the_guard(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    (tmp_path / "reconciler.yaml").write_text("maxChangesPercent: 30\n")
    east = many(sandbox, tmp_path, 8, 8, "us-east-1")
    many(sandbox, tmp_path, 8, 8, "us-west-2")
    for target in ("default/us-east-1", "default/us-west-2"):
        refused = cli(sandbox, tmp_path, "apply", "--auto-approve", "--target", target)
        assert refused.code == 1
        assert f"8 of 8 memberships in {target} would change (100%)" in refused.stderr
    batch = [arg for mid in east[:2] for arg in ("--membership", mid)]
    sliced = cli(sandbox, tmp_path, "apply", "--auto-approve", *batch)
    assert sliced.code == 1
    assert "8 of 8 memberships in default/us-east-1 would change (100%)" in sliced.stderr
    saved_plan(sandbox, tmp_path, "--target", "default/us-east-1", *batch)
    part = cli(sandbox, tmp_path, "apply", "--auto-approve", "--plan", "plan.json")
    assert part.code == 1 and "8 of 8 memberships in default/us-east-1 would change (100%)" in part.stderr
    assert writes(sandbox) == []
    forced = cli(sandbox, tmp_path, "apply", "--auto-approve", "--force", *batch)
    assert forced.code == 0, forced.stderr
    assert len(writes(sandbox)) == 2


def test_apply_of_a_saved_plan_holds_the_allow_list_and_the_policies(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="ENABLED")
    write_desired(tmp_path / "desired-state", "a.yaml", mid, queryLogStatus="DISABLED")
    saved_plan(sandbox, tmp_path)
    policy = "policies:\n  - name: logging-on\n    rule: \"membership.queryLogStatus == 'ENABLED'\"\n"
    (tmp_path / "reconciler.yaml").write_text(policy)
    refused = cli(sandbox, tmp_path, "apply", "--auto-approve", "--plan", "plan.json")
    assert refused.code == 1
    assert f"membership {mid}: policy logging-on: the rule" in refused.stderr
    (tmp_path / "reconciler.yaml").write_text('accounts: ["444455556666"]\n')
    outside = cli(sandbox, tmp_path, "apply", "--auto-approve", "--plan", "plan.json")
    assert outside.code == 1
    assert "which reconciler.yaml's accounts allow-list does not list (444455556666)" in outside.stderr
    assert writes(sandbox) == []


# -- 3. the audit log and the report say what reached the service ------------------------------------


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def check_audit_against_the_endpoint(records: list[dict[str, Any]], requests: list[Any], killed: bool = False) -> None:
    """Every write that reached the endpoint has a `sent` line; every `sent` line has its answer line (but the
    last ones of a killed process), and one that did not reach the endpoint says it got no answer."""
    received: dict[str, int] = {}
    for request in requests:
        received[request.membership_id] = received.get(request.membership_id, 0) + 1
    sent = [(r["membershipIdentifier"], r["attempt"]) for r in records if r["outcome"] == "sent"]
    answers = {(r["membershipIdentifier"], r["attempt"]): r["outcome"] for r in records if r["outcome"] != "sent"}
    for mid, count in received.items():
        assert count <= sum(1 for m, _ in sent if m == mid), f"{mid}: a write reached the endpoint, no sent line"
    for mid, attempt in sent:
        if (mid, attempt) not in answers:
            assert killed, f"{mid}: a sent line with no answer line"
            continue
        if not received.get(mid):
            assert answers[mid, attempt] != "ok", f"{mid}: answered ok, but no request reached the endpoint"


def test_a_write_in_flight_when_the_breaker_trips_is_outcome_unknown_never_not_started(tmp_path: Path) -> None:
    with CleanRoomsSandbox(seed=3) as own:
        try:
            ids = [own.create_membership(f"m{i}") for i in range(40)]
            for i, mid in enumerate(ids):
                write_desired(tmp_path / "desired-state", f"m{i:02}.yaml", mid, queryLogStatus="ENABLED")
            own.set_latency(0.5, ["UpdateMembership"])
            env = own.client_env()
            log = tmp_path / "audit.jsonl"
            timer = threading.Timer(3.0, own.stop)
            timer.start()
            args = ["--parallelism", "4", "apply", "--auto-approve", "--audit-log", str(log), *FAST, "desired-state"]
            result = run_cli(args, env=env, cwd=tmp_path)
            timer.join()
            assert result.code == 1
            found = (re.match(r"^[a-z ]+: (\S+) \(desired-state/", line) for line in result.stdout.splitlines())
            outcomes = {match.group(1): match.string for match in found if match}
            assert len(outcomes) == 40
            landed = {mid for mid in ids if own.membership(mid)["queryLogStatus"] == "ENABLED"}
            assert landed, "the endpoint applied nothing before it stopped: the test proves nothing"
            for mid in landed:
                assert not outcomes[mid].startswith("not started"), outcomes[mid]
            requests = own.requests("UpdateMembership")
            check_audit_against_the_endpoint(audit_lines(log), requests)
            not_started = [mid for mid, line in outcomes.items() if line.startswith("not started")]
            assert not_started and not {r.membership_id for r in requests} & set(not_started)
        finally:
            own.reset()


# -- 15. AWS's patterns are ASCII -----------------------------------------------------------------------


def test_unicode_digits_and_letters_do_not_pass_the_apis_ascii_patterns(tmp_path: Path) -> None:
    mid = "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21"
    role = "arn:aws:iam::111122223333:role/Résultats-des-requêtes"
    write_desired(tmp_path, "region.yaml", mid, region="us-east-\u0661")
    write_desired(tmp_path, "account.yaml", mid.replace("3f", "4f"), accountId="\uff11" * 12)
    write_desired(tmp_path, "role.yaml", mid.replace("3f", "5f"), defaultJobResultConfiguration=job_results(role=role))
    prefix = query_results("bucket-a", keyPrefix="données/été")
    write_desired(tmp_path, "prefix.yaml", mid.replace("3f", "6f"), defaultResultConfiguration=prefix)
    result = run_cli(["validate", str(tmp_path)])
    assert result.code == 1
    assert [line.split(": ")[1] for line in result.stdout.splitlines()] == [
        "accountId",
        "defaultResultConfiguration.outputConfiguration.s3.keyPrefix",
        "region",
        "defaultJobResultConfiguration.roleArn",
    ]
    assert run_cli(["plan", "--target", "default/us-east-\u0661"]).stderr.endswith("and a region like us-east-1\n")


# -- 4, 10, 18. what is published on GitHub is ours, and inert -----------------------------------------

FORGED = "sha256:" + "f" * 64
HERE = Where("us-east-1")
MID = "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with running() as server:
        yield server


def publish_cli(fake: FakeGitHub, *args: str) -> Result:
    variables = fake.env() | {"GITHUB_SERVER_URL": "https://github.localhost", "GITHUB_RUN_ID": "5"}
    return run_cli(["github", *args], env=variables | {"AWS_DEFAULT_REGION": "us-east-1"})


def one_target(tmp_path: Path, plan: Plan) -> tuple[Path, Path]:
    write_desired(tmp_path / "desired-state", "a.yaml", MID)
    reports = tmp_path / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "plan.json").write_text(replace(plan, target=HERE).dumps())
    return tmp_path / "desired-state", reports


def drifted() -> Plan:
    field = FieldChange("queryLogStatus", "DISABLED", "ENABLED")
    return Plan.build([MembershipChange(MID, "a.yaml", "us-east-1", (field,), "sha256:x", "0" * 64, "acme")])


def test_drift_issue_never_takes_over_someone_elses_issue(fake: FakeGitHub, tmp_path: Path) -> None:
    quoted = "I saw this in the bot's issue: <!-- cleanrooms-reconciler:drift -->"
    theirs = fake.add_issue("Question about drift", quoted, ["drift"], "mallory")
    path, reports = one_target(tmp_path, drifted())
    opened = publish_cli(fake, "drift-issue", "--reports", str(reports), str(path))
    assert opened.code == 0, opened.stderr
    ours = [i for i in fake.issues_labelled("drift") if i.number != theirs]
    assert [i.author for i in ours] == [BOT]
    assert fake.issues[theirs].body == quoted and fake.comments_on(theirs) == []
    path, reports = one_target(tmp_path, Plan.build([]))
    closed = publish_cli(fake, "drift-issue", "--reports", str(reports), str(path))
    assert closed.stdout == f"drift issue #{ours[0].number} closed: no drift\n"
    assert fake.issues[theirs].state == "open" and fake.issues[theirs].body == quoted


HOSTILE = "<img src=x onerror=alert(1)> @acme/security ```\n![i](https://e.example/i.png) <!-- x --> www.e.example"
FORGED_MARKER = f"<!-- cleanrooms-reconciler:changes-hash default/us-east-1 {FORGED} -->"


def hostile_plan() -> Plan:
    before = {"outputConfiguration": {"s3": {"bucket": "b", "resultFormat": "CSV"}}}
    after = {"outputConfiguration": {"s3": {"bucket": "b", "resultFormat": "CSV", HOSTILE: 1}}}
    fields = (
        FieldChange("defaultResultConfiguration", before, after, origin=f"defaults[0] ({FORGED_MARKER})"),
        FieldChange("queryLogStatus", "DISABLED", f"ENABLED {HOSTILE}"),
    )
    change = MembershipChange(MID, f"{HOSTILE}.yaml", "us-east-1", fields, "sha256:x", "0" * 64, HOSTILE)
    error = PlanError(f"`{HOSTILE}", f"{HOSTILE}.yaml", HOSTILE, HOSTILE)
    return replace(Plan.build([change], [error]), unmanaged=(Unmanaged(f"`{HOSTILE}", HOSTILE, "us-east-1", "a"),))


def rendered_html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark").enable("table").render(markdown))


def test_every_string_from_outside_is_inert_in_a_comment(fake: FakeGitHub, tmp_path: Path) -> None:
    path, reports = one_target(tmp_path, hostile_plan())
    pr = fake.open_pull("a" * 40)
    made = publish_cli(fake, "comment", "--pull-request", str(pr), "--reports", str(reports), str(path))
    assert made.code == 0, made.stderr
    [comment] = fake.comments_on(pr)
    html = rendered_html(comment.body)
    tags = set(re.findall(r"</?([a-z][a-z0-9]*)", html))
    assert tags <= {
        "h3",
        "h4",
        "p",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "code",
        "pre",
        "details",
        "summary",
        "strong",
        "em",  # the byline: what the comment was made for
        "ul",
        "li",
        "a",
    }, tags
    assert re.findall(r"<!--.*?-->", html) == ["<!-- cleanrooms-reconciler:plan -->"]
    outside_code = re.sub(r"<pre>.*?</pre>", "", html, flags=re.S)
    assert not re.search(r"@[A-Za-z0-9]", outside_code)
    raw_text = re.sub(r"^(`{3,})diff$.*?^\1$", "", comment.body, flags=re.S | re.M)  # code shows raw
    raw_text = re.sub(r"\]\(https://github\.localhost/acme/cleanrooms/actions/runs/[0-9]+\)", "]()", raw_text)  # ours
    assert "https://" not in raw_text and "www." not in raw_text  # GitHub autolinks these in the source
    assert "<img" in comment.body  # shown, as code, in the diff: inert there without escaping
    assert [href for href in re.findall(r'href="([^"]*)"', html) if "github.localhost/acme" not in href] == []


def test_a_hash_marker_counts_only_in_the_comments_head_and_only_when_the_table_agrees(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    from reconciler.usecases import publish, review

    genuine = drifted()
    sections = [render.Section(HERE.label, replace(hostile_plan(), errors=()))]
    edge = GitHub(fake.url, fake.token, fake.repository)
    head, merge = "a" * 40, "c" * 40
    pr = fake.open_pull(head)
    fake.merge(pr, merge)
    fake.add_comment(pr, publish.plan_comment(sections, None, None, head), BOT)
    reviewed = review.reviewed_for_push(edge, merge, BOT)
    assert reviewed.approvals == {HERE.label: sections[0].plan.changes_hash()}  # type: ignore[union-attr]

    body = publish.plan_comment([render.Section(HERE.label, genuine)], None, None, head)
    fake.add_comment(pr, body.replace(genuine.changes_hash(), FORGED, 1), BOT)
    mismatched = review.reviewed_for_push(edge, merge, BOT)
    assert mismatched.approvals == {}
    assert mismatched.reason == (
        f"the plan comment on #{pr} is not consistent: its hidden hash for {HERE.label} is not the one its table "
        "shows; nothing was reviewed"
    )


# -- 9. every printed line shows text and does nothing else ---------------------------------------------

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"
OSC8 = "\x1b]8;;https://e.example\x1b\\click\x1b]8;;\x1b\\"


def lines_act_only_as_ours(result: Result) -> None:
    for stream in (result.stdout, result.stderr):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", stream), repr(stream)
        for line in stream.splitlines():
            command = line.lstrip().startswith("::") or "##[" in line
            assert not command or line.startswith("::error file="), line


def test_keys_and_file_names_cannot_print_workflow_commands_or_terminal_escapes(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    desired = tmp_path / "desired-state"
    desired.mkdir()
    key = json.dumps("x\n::warning file=README.md,line=1::injected" + OSC52 + OSC8)
    (desired / "key.yaml").write_text(f"membershipIdentifier: {MID}\n{key}: 1\n")
    actions = {"GITHUB_ACTIONS": "true"}
    validated = run_cli(["validate", "desired-state"], env=actions, cwd=tmp_path)
    assert validated.code == 1
    lines_act_only_as_ours(validated)
    assert "\\x3a:warning file=README.md" in validated.stdout or "\\n::warning" in validated.stdout
    (desired / "key.yaml").unlink()

    mid = sandbox.create_membership("acme ::error::x" + OSC52)
    write_desired(desired, "p\n::error::pwned ##[error]y" + OSC8 + ".yaml", mid, queryLogStatus="ENABLED")
    for command in (["plan"], ["drift"], ["apply", "--auto-approve"]):
        result = run_cli([*command, "desired-state"], env=sandbox.client_env() | actions, cwd=tmp_path)
        assert result.code in (0, 2), result.stderr
        lines_act_only_as_ours(result)
        assert "p\\n::error::pwned \\x23#[error]y\\x1b]8;;https" in result.stdout


def test_on_a_colour_terminal_only_our_colours_are_codes(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    from reconciler.cli import run
    from reconciler.core.environment import Environment

    from .helpers import clean_environ, environ

    conceal = "\x1b[8m"  # would hide the rest of the line from a reviewer
    mid = sandbox.create_membership("acme" + conceal + OSC52)
    write_desired(tmp_path / "desired-state", "a.yaml", mid, queryLogStatus="ENABLED")
    variables = clean_environ(sandbox.client_env())
    variables.pop("NO_COLOR")
    stdout, stderr = io.StringIO(), io.StringIO()
    with environ(variables, tmp_path):
        code = run(["plan"], Environment(stdout, stderr, stdout_isatty=True, variables=variables))
    assert code == 0, stderr.getvalue()
    shown = stdout.getvalue()
    assert f"\x1b[33m~ membership {mid} acme\\x1b[8m\\x1b]52;c;cm0gLXJmIH4=\\x07 (desired-state/a.yaml" in shown
    assert set(re.findall("\x1b\\[[0-9;]*m", shown)) == {"\x1b[33m", "\x1b[0m"}
    assert shown.count("\x1b") == shown.count("\x1b[33m") + shown.count("\x1b[0m")


# -- 5, 17. every run ends with a message and, when asked, a receipt -----------------------------------


def test_an_unwritable_receipt_is_found_before_any_write(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme")
    write_desired(tmp_path / "desired-state", "a.yaml", mid, queryLogStatus="ENABLED")
    (tmp_path / "file").write_text("")
    for receipt in ("/dev/full", str(tmp_path / "file" / "receipt.json")):
        result = cli(sandbox, tmp_path, "apply", "--auto-approve", "--receipt", receipt)
        assert result.code == 1
        assert f"error: cannot write the receipt {receipt}" in result.stderr
        assert sandbox.requests() == []


def test_sigterm_before_the_writes_ends_with_a_message_and_a_receipt(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    ids = [sandbox.create_membership(f"c{i}") for i in range(20)]
    for i, mid in enumerate(ids):
        write_desired(tmp_path / "desired-state", f"m{i}.yaml", mid, queryLogStatus="ENABLED")
    sandbox.set_latency(0.3, operations=["GetMembership"])
    for command in (["plan"], ["apply", "--auto-approve", "--receipt", "receipt.json"]):
        sandbox.clear_requests()
        proc = spawn(["--parallelism", "2", *command, "desired-state"], sandbox.client_env(), tmp_path)
        deadline = time.monotonic() + 30
        while not sandbox.requests("GetMembership") and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        _stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 1, stderr
        assert "error: terminated (SIGTERM) before anything was written; nothing was applied" in stderr
        assert len(sandbox.requests("GetMembership")) < 20  # the reads not started were dropped
    receipt = json.loads((tmp_path / "receipt.json").read_text())
    assert receipt["result"] == "refused" and receipt["message"].startswith("terminated (SIGTERM)")
    assert sandbox.requests("UpdateMembership") == []


# -- 8. the defaults a file gets do not depend on the PATH that names it --------------------------------


def test_defaults_are_the_same_whatever_path_names_the_file(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "defaults:\n"
        "  - paths: ['**']\n    settings: {jobLogStatus: DISABLED}\n"
        "  - paths: ['partners/**']\n    settings: {jobLogStatus: ENABLED}\n"
    )
    mid = sandbox.create_membership("acme", queryLogStatus="ENABLED")
    write_desired(tmp_path / "desired-state", "partners/acme.yaml", mid, queryLogStatus="ENABLED")
    plans = []
    for path in ("desired-state", "desired-state/partners", "desired-state/partners/acme.yaml"):
        result = cli(sandbox, tmp_path, "plan", "--format", "json", path)
        assert result.code == 0, result.stderr
        plans.append(json.loads(result.stdout)["changes"])
    [field] = plans[0][0]["fields"].values()
    assert (field["after"], field["origin"]) == ("ENABLED", "defaults[1] (partners/**)")
    assert plans[0] == plans[1] == plans[2]
    inside = cli(
        sandbox,
        tmp_path / "desired-state" / "partners",
        "--config",
        "../../reconciler.yaml",
        "plan",
        "--format",
        "json",
        ".",
    )
    assert inside.code == 0, inside.stderr
    assert [c["fields"] for c in json.loads(inside.stdout)["changes"]] == [plans[0][0]["fields"]]


# -- 14, 16. nothing under PATH is skipped silently, and no file makes a traceback ---------------------


def as_unprivileged(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI as a user without root's power to read anything (CI runners are not root)."""
    import os

    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    return subprocess.run(
        [*drop, sys.executable, "-m", "reconciler", *args],
        env=subprocess_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_unreadable_directory_or_file_and_a_linked_directory_are_problems_naming_them(tmp_path: Path) -> None:
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="seams-"))
    try:
        root.chmod(0o755)
        desired = root / "desired-state"
        write_desired(desired, "ok.yaml", MID, queryLogStatus="ENABLED")
        write_desired(desired, "locked/hidden.yaml", MID.replace("3f", "4f"), queryLogStatus="ENABLED")
        write_desired(desired, "secret.yaml", MID.replace("3f", "5f"), queryLogStatus="ENABLED")
        write_desired(root / "elsewhere", "linked.yaml", MID.replace("3f", "6f"), queryLogStatus="ENABLED")
        (desired / "shared").symlink_to(root / "elsewhere", target_is_directory=True)
        for path in (root, desired, root / "elsewhere"):
            path.chmod(0o755)
        (desired / "ok.yaml").chmod(0o644)
        (desired / "secret.yaml").chmod(0o000)
        (desired / "locked").chmod(0o000)
        # The unprivileged user must reach this checkout's Python: a clone in a `mktemp -d` folder (0700) hides it.
        reached = as_unprivileged(["--version"], root)
        assert reached.returncode == 0, f"the unprivileged user cannot run {sys.executable}: {reached.stderr}"
        result = as_unprivileged(["validate", "desired-state"], root)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr and "this is a bug" not in result.stderr
        assert result.stdout.splitlines() == [
            "desired-state/locked:1:1: a directory that cannot be read (Permission denied); "
            "no file under it was loaded",
            "desired-state/secret.yaml:1:1: cannot be read (Permission denied)",
            f"desired-state/shared:1:1: a symbolic link to a directory ({root}/elsewhere); no file under it was "
            "loaded: put the files in the desired-state directory, or link each file",
        ]
    finally:
        (root / "desired-state" / "locked").chmod(0o755)
        import shutil

        shutil.rmtree(root)


# -- 11, 12. every wait has a bound ----------------------------------------------------------------------


def test_the_retry_deadline_bounds_a_calls_wait_for_its_turn(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    ids = [sandbox.create_membership(f"c{i}") for i in range(30)]
    for i, mid in enumerate(ids):
        write_desired(tmp_path / "desired-state", f"m{i}.yaml", mid, queryLogStatus="ENABLED")
    sandbox.inject("GetMembership", rate=1.0, fault=THROTTLE)
    started = time.monotonic()
    result = cli(sandbox, tmp_path, "plan", "--retry-deadline", "2")
    elapsed = time.monotonic() - started
    assert result.code == 1
    assert elapsed < 2 * 2 + 3, f"{elapsed:.1f} s: a call waited for its turn past its deadline"
    assert "ThrottlingException" in result.stdout


class Trickle(socketserver.BaseRequestHandler):
    """An endpoint that answers a status line and headers, then one byte of the body every second."""

    def handle(self) -> None:
        self.request.recv(65536)
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(300):
            try:
                self.request.sendall(b" ")
            except OSError:
                return
            time.sleep(1)


def test_an_endpoint_that_trickles_is_cut_off_within_the_deadline(tmp_path: Path) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for i in range(3):
            write_desired(tmp_path / "desired-state", f"m{i}.yaml", MID[:-1] + str(i), queryLogStatus="ENABLED")
        env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}",
            "AWS_ACCESS_KEY_ID": "AKIASANDBOXEXAMPLE00",
            "AWS_SECRET_ACCESS_KEY": "sandbox-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        started = time.monotonic()
        result = run_cli(["plan", "--retry-deadline", "3", "desired-state"], env=env, cwd=tmp_path)
        elapsed = time.monotonic() - started
        assert result.code == 1
        assert elapsed < 3 * 2 + 3, f"{elapsed:.1f} s"
        assert "did not answer in full within" in result.stdout + result.stderr
    finally:
        server.shutdown()
        server.server_close()


class Silent(socketserver.BaseRequestHandler):
    """An API that accepts a connection, reads the request and never answers."""

    def handle(self) -> None:
        self.request.recv(65536)
        time.sleep(120)


def test_a_github_wait_over_a_minute_fails_at_once_and_a_silent_api_within_a_minute(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    path, reports = one_target(tmp_path, drifted())
    pr = fake.open_pull()
    fake.fail("GET", r"/issues/\d+/comments", 403, [("Retry-After", "3600")])
    started = time.monotonic()
    result = publish_cli(fake, "comment", "--pull-request", str(pr), "--reports", str(reports), str(path))
    assert result.code == 1
    assert time.monotonic() - started < 10
    assert "GitHub asks to wait 3600 s before the next call (Retry-After); retry after " in result.stderr
    reset = [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", str(int(time.time()) + 3600))]
    fake.fail("GET", r"/issues/\d+/comments", 403, reset, "API rate limit exceeded for installation ID 1.")
    limited = publish_cli(fake, "comment", "--pull-request", str(pr), "--reports", str(reports), str(path))
    assert limited.code == 1
    assert "before the next call (X-RateLimit-Reset); retry after " in limited.stderr

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Silent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        silent = {"GITHUB_API_URL": f"http://127.0.0.1:{server.server_address[1]}"}
        started = time.monotonic()
        args = ["github", "comment", "--pull-request", str(pr), "--reports", str(reports), str(path)]
        quiet = run_cli(args, env=fake.env() | silent | {"AWS_DEFAULT_REGION": "us-east-1"})
        assert quiet.code == 1
        assert time.monotonic() - started < 60
        assert "GitHub: cannot list the comments of #" in quiet.stderr
    finally:
        server.shutdown()
        server.server_close()


# -- 16. no input is a bug message ----------------------------------------------------------------------


def test_deep_or_recursive_yaml_and_json_are_clear_errors(tmp_path: Path) -> None:
    desired = tmp_path / "desired-state"
    desired.mkdir()
    (desired / "nested.yaml").write_text(f"membershipIdentifier: {MID}\nqueryLogStatus: {'[' * 300}{']' * 300}\n")
    (desired / "recursive.yaml").write_text(f"membershipIdentifier: {MID.replace('3f', '4f')}\nx: &a [*a]\n")
    result = run_cli(["validate", str(desired)])
    assert result.code == 1
    assert result.stdout.splitlines() == [
        f"{desired}/nested.yaml:1:1: nested more than 50 levels deep; settings are a few levels deep",
        f"{desired}/recursive.yaml:1:1: a YAML alias that contains itself; write the setting out",
    ]
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    for args in (["render", str(deep)], ["apply", "--auto-approve", "--plan", str(deep)]):
        shown = run_cli(args)
        assert shown.code == 1
        assert f"{deep}: the top level: nested more than 50 levels deep; a plan is a few levels deep" in shown.stderr


def test_option_values_that_cannot_work_are_usage_errors(tmp_path: Path) -> None:
    write_desired(tmp_path, "a.yaml", MID, queryLogStatus="ENABLED")
    for args, said in (
        (["plan", "--retry-max-delay", "nan"], "'nan' is not a finite number of seconds"),
        (["plan", "--retry-deadline", "inf"], "'inf' is not a finite number of seconds"),
        (["--assume-role-template", "arn:aws:iam::{accountId}:role/{x}", "plan"], "only {accountId}"),
        (["--assume-role-template", "arn:aws:iam::{accountId}:role/{0}", "plan"], "only {accountId}"),
        (["--assume-role-template", "arn:aws:iam::{accountId}:role/r{", "plan"], "only {accountId}"),
        (["plan", "--format", "markdown", "--markdown-limit", "10"], "0 (no limit) or at least 2000"),
    ):
        result = run_cli([*args, str(tmp_path)])
        assert result.code == 1, (args, result)
        assert said in result.stderr, (args, result.stderr)


def test_an_unwritable_job_summary_is_a_warning_not_the_end_of_a_plan(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    summary = {"GITHUB_STEP_SUMMARY": str(tmp_path / "a.yaml" / "summary.md")}
    result = run_cli(["plan", str(tmp_path)], env=sandbox.client_env() | summary)
    assert result.code == 0, result.stderr
    assert "Plan: 1 membership, 1 to change, 0 unchanged." in result.stdout
    assert f"warning: cannot append to the job summary {tmp_path}/a.yaml/summary.md: Not a directory" in result.stderr


def test_too_many_targets_for_one_comment_still_make_one_comment(fake: FakeGitHub, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    desired = tmp_path / "desired-state"
    for i in range(400):
        where = Where("us-east-1", f"{100000000000 + i}")
        write_desired(desired, f"m{i}.yaml", f"{MID[:-4]}{i:04d}", accountId=where.account)
        (reports / f"r{i}.json").write_text(replace(drifted(), target=where).dumps())
    pr = fake.open_pull()
    result = publish_cli(fake, "comment", "--pull-request", str(pr), "--reports", str(reports), str(desired))
    assert result.code == 0, result.stderr
    [comment] = fake.comments_on(pr)
    assert len(comment.body) <= 65_536
    assert "more account/region target(s) not shown in this table" in comment.body


def test_a_receipt_without_a_result_is_an_error_naming_it(fake: FakeGitHub, tmp_path: Path) -> None:
    path, plans = one_target(tmp_path, drifted())
    receipts = tmp_path / "receipts"
    receipts.mkdir()
    (receipts / "receipt.json").write_text(json.dumps({"target": HERE.label}))
    reviewed = json.dumps({"pullRequest": None, "approvals": {}, "reason": None})
    args = ["apply-report", "--plans", str(plans), "--receipts", str(receipts), "--reviewed", reviewed, str(path)]
    result = publish_cli(fake, *args)
    assert result.code == 1
    assert f"{receipts}/receipt.json is not an apply receipt: result: required key is missing" in result.stderr


def test_import_over_an_invalid_file_stops_before_any_call(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    mid = sandbox.create_membership("acme")
    out = tmp_path / "desired-state"
    out.mkdir()
    (out / "acme.yaml").write_text(f"membershipIdentifier: {mid}\nqueryLogStatus: [\n")
    result = cli(sandbox, tmp_path, "import", "--all", "--overwrite", "--out-dir", "desired-state")
    assert result.code == 1
    assert "desired-state/acme.yaml:3:1:" in result.stderr
    assert sandbox.requests() == []
    assert (out / "acme.yaml").read_text() == f"membershipIdentifier: {mid}\nqueryLogStatus: [\n"
    assert sorted(p.name for p in out.iterdir()) == ["acme.yaml"]


# -- 18. the smaller ones --------------------------------------------------------------------------------


def test_an_imported_name_reads_back_as_it_was(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    name = "acme\x85retail\u2028measurement\u00a0"
    mid = sandbox.create_membership(name, queryLogStatus="ENABLED")
    imported = cli(sandbox, tmp_path, "import", "--all", "--out-dir", "desired-state")
    assert imported.code == 0, imported.stderr
    planned = cli(sandbox, tmp_path, "plan", "--detailed-exitcode")
    assert planned.code == 0, planned.stdout + planned.stderr
    again = cli(sandbox, tmp_path, "import", "--membership", mid, "--overwrite", "--out-dir", "desired-state")
    assert again.code == 0 and cli(sandbox, tmp_path, "plan", "--detailed-exitcode").code == 0


def test_smaller_input_mistakes_are_named(tmp_path: Path) -> None:
    from reconciler.core import saved
    from reconciler.core.errors import UsageError
    from reconciler.usecases import review

    many = tmp_path / "many.yaml"
    many.write_text(f"membershipIdentifier: {MID}\n" + "".join(f"k{i}: {i}\n" for i in range(10_001)))
    assert run_cli(["validate", str(many)]).stdout == (
        f"{many}:1:1: more than 10000 values; a membership file has a few dozen\n"
    )
    plan, problems = saved.parse(json.dumps({"formatVersion": True, "changes": []}))
    assert plan is None and problems == ["formatVersion: Input should be 1"]
    digest = "sha256:" + "1" * 64
    with pytest.raises(UsageError, match="default/us-east-1 is approved twice"):
        review.parse_approvals(f"default/us-east-1={digest} default/us-east-1={'sha256:' + '2' * 64}")
    assert render.summary_line(drifted()) == "Plan: 1 membership, 1 to change, 0 unchanged."


def test_a_head_commit_that_is_not_one_never_reaches_a_hidden_marker(fake: FakeGitHub, tmp_path: Path) -> None:
    path, reports = one_target(tmp_path, drifted())
    pr = fake.open_pull()
    forged = "a" * 40 + f" --> {FORGED_MARKER} <!--"
    args = ["comment", "--pull-request", str(pr), "--reports", str(reports), "--head-sha", forged, str(path)]
    result = publish_cli(fake, *args)
    assert result.code == 1 and "expected a commit's 40 lower-case hex digits" in result.stderr
    assert fake.comments_on(pr) == []


class Empty(socketserver.BaseRequestHandler):
    """An endpoint that answers every call 200 with an empty JSON object."""

    def handle(self) -> None:
        self.request.recv(65536)
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")


def test_an_answer_without_its_membership_is_an_error_naming_it(tmp_path: Path) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Empty)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        write_desired(tmp_path / "desired-state", "a.yaml", MID, queryLogStatus="ENABLED")
        env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}",
            "AWS_ACCESS_KEY_ID": "AKIASANDBOXEXAMPLE00",
            "AWS_SECRET_ACCESS_KEY": "sandbox-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        result = run_cli(["plan", "--retry-deadline", "2", "desired-state"], env=env, cwd=tmp_path)
        assert result.code == 1
        assert "MalformedResponse" in result.stdout + result.stderr
    finally:
        server.shutdown()
        server.server_close()
