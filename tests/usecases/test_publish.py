"""`reconciler render` and `reconciler github comment | drift-issue`, run as a user runs them (in-process),
against the local fake of GitHub's REST API: per-target reports in, ONE comment or ONE issue out."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.core import render
from reconciler.core.api import Where
from reconciler.core.plan import FieldChange, MembershipChange, Plan, PlanError

from ..fakegithub import BODY_LIMIT, BOT, FakeGitHub, running
from ..helpers import Result, run_cli, write_desired

TARGETS = [Where("us-east-1", "111122223333"), Where("eu-west-1", "111122223333"), Where("us-east-1", "444455556666")]


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with running() as server:
        yield server


def mid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def change(i: int, where: Where, fields: int = 1) -> MembershipChange:
    names = ["queryLogStatus", "jobLogStatus", "defaultResultConfiguration", "defaultJobResultConfiguration"]
    changes = tuple(FieldChange(name, "DISABLED", "ENABLED") for name in names[:fields])
    return MembershipChange(
        mid(i), f"desired-state/m{i}.yaml", where.region, changes, "sha256:x", "0" * 64, f"collab-{i}", where.account
    )


def targeted(where: Where, *changes: int, fields: int = 1) -> Plan:
    """A report's plan for one target: these changes, named by `change`'s index."""
    return Plan(Plan.build([change(i, where, fields) for i in changes]).memberships, target=where)


def desired(tmp_path: Path, targets: list[Where]) -> Path:
    directory = tmp_path / "desired-state"
    for i, where in enumerate(targets):
        write_desired(directory, f"m{i}.yaml", mid(i), region=where.region, accountId=where.account)
    return directory


def report(directory: Path, plan: Plan, where: Where) -> Path:
    path = directory / f"plan-{where.account}-{where.region}" / "plan.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dataclasses.replace(plan, target=where).dumps())
    return path


def github(fake: FakeGitHub, args: list[str], run_id: str = "7") -> Result:
    variables = fake.env() | {
        "GITHUB_SERVER_URL": "https://github.localhost",
        "GITHUB_RUN_ID": run_id,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return run_cli(["github", *args], env=variables)


def test_three_targets_land_in_one_comment_that_a_second_push_edits(fake: FakeGitHub, tmp_path: Path) -> None:
    path, reports = desired(tmp_path, TARGETS), tmp_path / "reports"
    pr = fake.open_pull()
    for i, where in enumerate(TARGETS):
        report(reports, Plan.build([change(i, where)]), where)
    first = github(fake, ["comment", "--pull-request", str(pr), "--reports", str(reports), str(path)])
    assert first.code == 0, first.stderr
    [comment] = fake.comments_on(pr)
    assert first.stdout == f"created the plan comment {comment.id} on #{pr}\n"
    assert comment.body.startswith("<!-- cleanrooms-reconciler:plan -->\n")
    assert "### Clean Rooms plan: 3 to change in 3 account/region target(s)" in comment.body
    for i, where in enumerate(TARGETS):
        digest = Plan.build([change(i, where)]).changes_hash()
        assert f"<!-- cleanrooms-reconciler:changes-hash {where.label} {digest} -->" in comment.body
        assert f"| `{where.label}` | 1 | 1 | 0 | 0 | `{digest[:19]}` |" in comment.body
        assert f"| `{where.label}` | 1 | 1 | 0 | 0 |" in comment.body
        assert f"#### `{where.label}`" in comment.body
    report(reports, Plan.build([change(0, TARGETS[0]), change(9, TARGETS[0])]), TARGETS[0])
    second = github(fake, ["comment", "--pull-request", str(pr), "--reports", str(reports), str(path)], "8")
    assert second.code == 0 and second.stdout == f"updated the plan comment {comment.id} on #{pr}\n"
    [edited] = fake.comments_on(pr)
    assert edited.id == comment.id and edited.edits == 1
    assert f"| `{TARGETS[0].label}` | 2 | 2 | 0 | 0 |" in edited.body
    assert [c.method for c in fake.writes()] == ["POST", "PATCH"]


def test_a_marker_in_someone_elses_comment_is_not_taken_for_ours(fake: FakeGitHub, tmp_path: Path) -> None:
    path, reports = desired(tmp_path, TARGETS[:1]), tmp_path / "reports"
    pr = fake.open_pull()
    forged = fake.add_comment(pr, "<!-- cleanrooms-reconciler:plan --> looks like a plan", "mallory")
    report(reports, Plan.build([change(0, TARGETS[0])]), TARGETS[0])
    result = github(fake, ["comment", "--pull-request", str(pr), "--reports", str(reports), str(path)])
    assert result.code == 0
    comments = fake.comments_on(pr)
    assert [c.author for c in comments] == ["mallory", BOT]
    assert fake.comments[forged].edits == 0


def test_fifteen_hundred_memberships_fit_one_comment_with_the_rest_counted(fake: FakeGitHub, tmp_path: Path) -> None:
    path, reports = desired(tmp_path, TARGETS), tmp_path / "reports"
    pr = fake.open_pull()
    for t, where in enumerate(TARGETS):
        report(reports, Plan.build([change(t * 1000 + i, where, fields=4) for i in range(500)]), where)
    result = github(fake, ["comment", "--pull-request", str(pr), "--reports", str(reports), str(path)])
    assert result.code == 0, result.stderr
    [comment] = fake.comments_on(pr)
    assert BODY_LIMIT - 2000 < len(comment.body) <= BODY_LIMIT
    shown = comment.body.count("<details>")
    assert 0 < shown < 1500
    assert (
        f"**Not shown** (a comment holds at most 65,536 characters): {1500 - shown} change(s). The full plan is in "
        "the artifacts of [this run](https://github.localhost/acme/cleanrooms/actions/runs/7)." in comment.body
    )
    for where in TARGETS:  # the summary comes first and is whole
        assert f"| `{where.label}` | 500 | 500 | 0 | 0 |" in comment.body


def test_a_target_without_a_report_is_shown_as_failed(fake: FakeGitHub, tmp_path: Path) -> None:
    path, reports = desired(tmp_path, TARGETS), tmp_path / "reports"
    pr = fake.open_pull()
    report(reports, Plan.build([change(0, TARGETS[0])]), TARGETS[0])
    result = github(fake, ["comment", "--pull-request", str(pr), "--reports", str(reports), str(path)])
    assert result.code == 0
    [comment] = fake.comments_on(pr)
    assert "in 3 account/region target(s), 2 with errors" in comment.body
    assert f"| `{TARGETS[1].label}` | | | | :x: no report: the job did not finish |" in comment.body


def test_a_broken_report_is_an_error_naming_it_and_nothing_is_posted(fake: FakeGitHub, tmp_path: Path) -> None:
    path, reports = desired(tmp_path, TARGETS[:1]), tmp_path / "reports"
    pr = fake.open_pull()
    (reports / "x").mkdir(parents=True)
    (reports / "x" / "plan.json").write_text('{"formatVersion": 1, "changes": {}}')
    result = github(fake, ["comment", "--pull-request", str(pr), "--reports", str(reports), str(path)])
    assert result.code == 1
    assert f"{reports}/x/plan.json: changes: must be a list" in result.stderr
    assert f"error: {reports}/x/plan.json is not a plan or drift report" in result.stderr
    assert fake.calls == []


def test_without_a_token_the_github_commands_say_what_is_missing(tmp_path: Path) -> None:
    result = run_cli(["github", "comment", "--pull-request", "1", "--reports", str(tmp_path), str(tmp_path)])
    assert result.code == 1
    assert "error: GITHUB_TOKEN and GITHUB_REPOSITORY must be set (a workflow run sets them)" in result.stderr


def drift_report(reports: Path, drifted: list[int], where: Where = TARGETS[0], errors: int = 0) -> None:
    failures = [PlanError(mid(90 + i), f"desired-state/e{i}.yaml", "cannot be read", "Denied") for i in range(errors)]
    report(reports, Plan.build([change(i, where) for i in drifted], failures), where)


def test_the_drift_issue_is_opened_updated_and_closed(fake: FakeGitHub, tmp_path: Path) -> None:
    path, reports = desired(tmp_path, TARGETS[:1]), tmp_path / "reports"
    args = ["drift-issue", "--reports", str(reports), str(path)]

    drift_report(reports, [0])
    night1 = github(fake, args, "1")
    assert night1.code == 0, night1.stderr
    [issue] = fake.issues_labelled("drift")
    assert night1.stdout == f"drift issue #{issue.number} opened: 1 drifted\n"
    assert issue.title == "Clean Rooms drift: live settings differ from the desired state"
    assert "### Clean Rooms drift: 1 drifted in 1 account/region target(s)" in issue.body

    drift_report(reports, [0, 1])
    night2 = github(fake, args, "2")
    assert night2.stdout == f"drift issue #{issue.number} updated: 2 drifted\n"
    assert len(fake.issues_labelled("drift")) == 1
    [update] = fake.comments_on(issue.number)
    assert "2 drifted" in update.body and "2 drifted" in fake.issues[issue.number].body

    drift_report(reports, [])
    night3 = github(fake, args, "3")
    assert night3.stdout == f"drift issue #{issue.number} closed: no drift\n"
    assert fake.issues[issue.number].state == "closed"
    assert fake.comments_on(issue.number)[-1].body == (
        "No drift any more ([run](https://github.localhost/acme/cleanrooms/actions/runs/3)): "
        "every target matches its desired state."
    )

    night4 = github(fake, args, "4")
    assert night4.stdout == "no drift; no drift issue open\n"
    assert len(fake.issues_labelled("drift")) == 1


def test_a_target_that_could_not_be_checked_keeps_the_issue_open_and_fails(fake: FakeGitHub, tmp_path: Path) -> None:
    path, reports = desired(tmp_path, TARGETS[:2]), tmp_path / "reports"
    args = ["drift-issue", "--reports", str(reports), str(path)]
    drift_report(reports, [0])
    drift_report(reports, [], TARGETS[1])
    assert github(fake, args).code == 0
    [issue] = fake.issues_labelled("drift")
    drift_report(reports, [])  # the drift is gone where it was checked, but the second target has no report now
    (reports / f"plan-{TARGETS[1].account}-{TARGETS[1].region}" / "plan.json").unlink()
    result = github(fake, args, "9")
    assert result.code == 1
    assert result.stderr == f"drift issue #{issue.number} kept open; not checked: {TARGETS[1].label}\n"
    assert fake.issues[issue.number].state == "open"
    assert "could not be checked" in fake.comments_on(issue.number)[-1].body


def test_a_failure_alone_opens_no_drift_issue_but_fails(fake: FakeGitHub, tmp_path: Path) -> None:
    path, reports = desired(tmp_path, TARGETS[:1]), tmp_path / "reports"
    drift_report(reports, [], errors=1)
    result = github(fake, ["drift-issue", "--reports", str(reports), str(path)])
    assert result.code == 1
    assert result.stderr == f"no drift; no drift issue open; not checked: {TARGETS[0].label}\n"
    assert fake.issues_labelled("drift") == []


def test_render_shows_a_report_again_in_any_format(tmp_path: Path) -> None:
    path = report(tmp_path, Plan.build([change(1, TARGETS[0])]), TARGETS[0])
    text = run_cli(["render", "--format", "text", str(path)])
    assert text.code == 0
    assert text.stdout.endswith("Plan: 1 membership, 1 to change, 0 unchanged.\n")
    drift = run_cli(["render", "--drift", str(path)])
    assert drift.stdout.startswith("### Clean Rooms drift: 1 drifted, 0 in sync (1 membership)")
    again = json.loads(run_cli(["render", "--format", "json", str(path)]).stdout)
    assert again == json.loads(path.read_text())


def test_the_reviewed_hashes_come_only_from_a_plan_comment_made_for_the_final_head(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    from reconciler.edges.github.rest import GitHub
    from reconciler.usecases import publish, review

    github_edge = GitHub(fake.url, fake.token, fake.repository)
    head, later, merge = "a" * 40, "b" * 40, "c" * 40
    assert review.reviewed_for_push(github_edge, merge, BOT).reason == (
        f"commit {merge} did not come from a merged pull request: nothing was reviewed"
    )

    pr = fake.open_pull(head)
    fake.merge(pr, merge)
    assert review.reviewed_for_push(github_edge, merge, BOT).reason == (
        f"pull request #{pr} has no plan comment: nothing was reviewed"
    )
    plan = targeted(TARGETS[0], 0)
    sections = [render.Section(TARGETS[0].label, plan)]
    fake.add_comment(pr, publish.plan_comment(sections, None, None, head), BOT)
    reviewed = review.reviewed_for_push(github_edge, merge, BOT)
    assert (reviewed.pull_request, reviewed.approvals, reviewed.reason) == (
        pr,
        {TARGETS[0].label: plan.changes_hash()},
        None,
    )
    fake.pulls[pr].head_sha = later  # a push after the last plan
    stale = review.reviewed_for_push(github_edge, merge, BOT)
    assert stale.approvals == {} and stale.reason == (
        f"the plan comment on #{pr} was made for aaaaaaaaaaaa, not the final head bbbbbbbbbbbb: "
        "the last push was not planned"
    )


def test_only_a_pull_request_merged_into_the_runs_branch_counts(fake: FakeGitHub) -> None:
    from reconciler.edges.github.rest import GitHub
    from reconciler.usecases import review

    github_edge, head, merge = GitHub(fake.url, fake.token, fake.repository), "a" * 40, "c" * 40
    elsewhere = fake.open_pull(head, base="release")
    fake.merge(elsewhere, merge)
    assert review.reviewed_for_push(github_edge, merge, BOT, "main").reason == (
        f"commit {merge} did not come from a pull request merged into main: nothing was reviewed"
    )
    assert review.reviewed_for_push(github_edge, merge, BOT, "release").pull_request == elsewhere
    into_main = fake.open_pull(head)  # the same commit, in a pull request into main too
    fake.merge(into_main, merge)
    assert review.reviewed_for_push(github_edge, merge, BOT, "main").pull_request == into_main


def test_a_manual_approval_is_checked_pair_by_pair() -> None:
    from reconciler.core.errors import UsageError
    from reconciler.usecases import review

    digest = "sha256:" + "1" * 64
    assert review.parse_approvals(f"111122223333/us-east-1={digest}\n default/eu-west-1={digest}") == {
        "111122223333/us-east-1": digest,
        "default/eu-west-1": digest,
    }
    for bad, message in [
        ("", "approve: no ACCOUNT/REGION=HASH pair given"),
        (f"us-east-1={digest}", "approve: 'us-east-1': expected ACCOUNT/REGION"),
        ("default/us-east-1=sha256:abc", "approve: 'default/us-east-1=sha256:abc': expected ACCOUNT/REGION=sha256:"),
    ]:
        with pytest.raises(UsageError) as caught:
            review.parse_approvals(bad)
        assert caught.value.message.startswith(message)


def test_the_apply_report_shows_the_new_plan_and_the_approve_line_within_the_limit() -> None:
    from reconciler.usecases import review

    plans = [targeted(w, *range(t * 1000, t * 1000 + 600), fields=4) for t, w in enumerate(TARGETS)]
    sections = [render.Section(p.target.label, p) for p in plans if p.target is not None]
    reviewed = review.Reviewed(7, {TARGETS[0].label: plans[0].changes_hash()})
    applied = {TARGETS[0].label: {"result": "applied", "memberships": [{"outcome": "applied"}] * 600}}
    body = review.apply_report(review.ApplyRun(sections, applied, reviewed, "https://github.test/run/1"))
    assert len(body) <= 65_536
    assert f"| `{TARGETS[0].label}` | applied | 600 of 600 | `{plans[0].changes_hash()[:19]}` |" in body
    assert f"| `{TARGETS[1].label}` | not applied |  | `{plans[1].changes_hash()[:19]}` |" in body
    assert "(a comment holds at most 65,536 characters)" in body
    approve = " ".join(f"{p.target.label}={p.changes_hash()}" for p in plans[1:] if p.target is not None)
    assert f"- `approve`: `{approve}`" in body and "- `pull-request`: `7`" in body
    assert f"- `{TARGETS[1].label}`: no changes hash was reviewed for it" in body
    assert "### Clean Rooms plan: 1200 to change in 2 account/region target(s)" in body  # only those not done


def test_author_at_token_is_the_personal_tokens_user_and_an_installation_token_is_told_to_name_its_app(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    from reconciler.usecases import publish

    path, reports = desired(tmp_path, TARGETS[:1]), tmp_path / "reports"
    plan = targeted(TARGETS[0], 0)
    report(reports, plan, TARGETS[0])
    head, merge = "a" * 40, "c" * 40
    pr = fake.open_pull(head)
    fake.add_comment(pr, publish.plan_comment([render.Section(TARGETS[0].label, plan)], None, None, head), "mallory")

    # The workflow's own token (an installation token) cannot say whose it is.
    refused = github(fake, ["reviewed", "--commit", merge, "--author", "@token"])
    assert refused.code == 1
    assert "--author @token: GitHub: cannot find whose token this is: HTTP 403" in refused.stderr
    assert "give the author as APP-SLUG[bot]" in refused.stderr

    # A personal access token's comments are its user's, and only they are ours.
    fake.tokens["pat"] = ("octocat", True)
    as_user = fake.env() | {"GITHUB_TOKEN": "pat", "GITHUB_RUN_ID": "8", "AWS_DEFAULT_REGION": "us-east-1"}
    args = ["github", "comment", "--pull-request", str(pr), "--reports", str(reports), "--head-sha", head]
    commented = run_cli([*args, "--author", "@token", str(path)], env=as_user)
    assert commented.code == 0, commented.stderr
    assert [c.author for c in fake.comments_on(pr)] == ["mallory", "octocat"]  # mallory's is not taken for ours
    fake.merge(pr, merge)
    found = run_cli(["github", "reviewed", "--commit", merge, "--author", "@token"], env=as_user)
    assert found.code == 0, found.stderr
    assert f'"pullRequest":{pr}' in found.stdout and plan.changes_hash() in found.stdout


def test_a_plan_comment_says_what_it_was_made_for_and_once_outdated_it_cannot_be_applied(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    from reconciler.edges.github.rest import GitHub
    from reconciler.usecases import publish, review

    path, reports = desired(tmp_path, TARGETS[:1]), tmp_path / "reports"
    plan = targeted(TARGETS[0], 0)
    report(reports, plan, TARGETS[0])
    head, later, merge = "a" * 40, "b" * 40, "c" * 40
    pr = fake.open_pull(head)
    assert (
        github(
            fake, ["comment", "--pull-request", str(pr), "--reports", str(reports), "--head-sha", head, str(path)]
        ).code
        == 0
    )
    [comment] = fake.comments_on(pr)
    made = re.search(
        r"^_Planned for commit `aaaaaaaaaaaa` at (\S+ \S+ UTC) in \[this run\]\((\S+)\)\._$", comment.body, re.M
    )
    assert made is not None and made.group(2) == "https://github.localhost/acme/cleanrooms/actions/runs/7"

    fake.pulls[pr].head_sha = later  # a push that does not validate
    for _ in range(2):  # marked twice: one banner
        marked = github(fake, ["outdated", "--pull-request", str(pr), "--head-sha", later], "8")
        assert marked.code == 0, marked.stderr
        assert f"marked the plan comment {comment.id} on #{pr} outdated" in marked.stdout
    [outdated] = fake.comments_on(pr)
    assert outdated.body.startswith(
        "<!-- cleanrooms-reconciler:plan -->\n> :warning: **Outdated**: the desired state at the latest commit "
        "does not validate. The plan below was made for an earlier commit and cannot be applied (Marked for "
        "commit `bbbbbbbbbbbb` at "
    )
    assert outdated.body.count("**Outdated**") == 1
    assert "changes-hash" not in outdated.body and "cleanrooms-reconciler:head" not in outdated.body
    assert made.group(0) in outdated.body  # the plan itself stays readable
    fake.merge(pr, merge)
    reviewed = review.reviewed_for_push(GitHub(fake.url, fake.token, fake.repository), merge, BOT)
    assert reviewed.approvals == {} and "made for an unknown commit" in (reviewed.reason or "")
    assert publish.mark_outdated(
        GitHub(fake.url, fake.token, fake.repository), fake.open_pull(), BOT, None, None, "x"
    ).message.startswith("no plan comment on #")


def test_a_batch_approves_per_target_only_what_one_pull_request_changes_and_a_direct_push_stops_it(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    import subprocess

    from reconciler.edges.github.rest import GitHub
    from reconciler.usecases import publish, review

    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.test"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)

    def commit(message: str) -> str:
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", message], cwd=tmp_path, check=True)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True)
        return head.stdout.strip()

    fake.git_dir = str(tmp_path)
    edge = GitHub(fake.url, fake.token, fake.repository)
    a, b, c = TARGETS
    plans = {
        "one": {a: Plan.build([change(0, a)]), b: Plan.build([]), c: Plan.build([change(2, c)])},
        "two": {a: Plan.build([]), b: Plan.build([change(1, b)]), c: Plan.build([change(3, c)])},
    }
    base = commit("base")
    merged: dict[str, tuple[int, str]] = {}
    for name, per_target in plans.items():
        head = "%040x" % (len(merged) + 1)
        pr = fake.open_pull(head)
        sections = [render.Section(w.label, Plan(p.memberships, target=w)) for w, p in per_target.items()]
        fake.add_comment(pr, publish.plan_comment(sections, None, None, head), BOT)
        merged[name] = (pr, commit(f"Merge #{pr}"))
        fake.merge(pr, merged[name][1])
    last = merged["two"][1]

    batch = review.reviewed_for_push(edge, last, BOT, "main", since=base)
    assert batch.told == (merged["one"][0], merged["two"][0]) and batch.reason is None
    # a: only #one changes it; b: only #two; c: both (planned apart, the plan on main is neither's).
    assert batch.approvals == {
        a.label: targeted(a, 0).changes_hash(),
        b.label: targeted(b, 1).changes_hash(),
    }
    assert review.reviewed_for_push(edge, last, BOT, "main").told == (merged["two"][0],)  # without --since

    direct = commit("pushed straight to main")
    stopped = review.reviewed_for_push(edge, direct, BOT, "main", since=base)
    assert stopped.approvals == {} and stopped.reason == (
        f"commit {direct} did not come from a pull request merged into main: nothing was reviewed"
    )


def test_the_gate_lets_through_only_a_reviewed_plan_that_changes_something_and_says_why_of_the_rest() -> None:
    from reconciler.usecases import review

    a, b, c = TARGETS
    changed = targeted(a, 0)
    drifted = targeted(b, 1)
    empty = Plan((), target=c)
    sections = [render.Section(p.target.label, p) for p in (changed, drifted, empty) if p.target is not None]
    sections.append(render.Section("999999999999/us-east-1", None, "no report: the job did not finish"))
    reviewed = review.Reviewed(
        7, {a.label: changed.changes_hash(), b.label: "sha256:" + "0" * 64, c.label: empty.changes_hash()}
    )
    ready, others = review.ready_to_apply(sections, reviewed)
    assert ready == [a]
    assert others == [
        f"{b.label}: the plan on main is not the one reviewed",
        f"{c.label}: nothing to apply",
        "999999999999/us-east-1: its plan on main failed",
    ]
    by_hand = review.Reviewed(7, {b.label: drifted.changes_hash()}, by_hand=True)
    assert review.ready_to_apply(sections[:2], by_hand) == ([b], [f"{a.label}: not in this run"])


def test_drift_that_ignore_changes_by_expects_is_shown_but_opens_no_issue(fake: FakeGitHub, tmp_path: Path) -> None:
    from reconciler.core.attribution import Attribution, Write

    path, reports = desired(tmp_path, TARGETS[:1]), tmp_path / "reports"
    bob = "arn:aws:sts::111122223333:assumed-role/BreakGlass/bob"
    write = Write("UpdateMembership", "2026-12-02T10:00:00Z", bob, "bob", "198.51.100.4", "the console", (), False)
    expected = Attribution((write,), expected=("arn:aws:sts::*:assumed-role/BreakGlass/*",))
    plan = dataclasses.replace(Plan.build([change(0, TARGETS[0])]), attribution={mid(0): expected})
    report(reports, plan, TARGETS[0])
    night = github(fake, ["drift-issue", "--reports", str(reports), str(path)], "1")
    assert night.code == 0, night.stderr
    assert night.stdout == "no drift; no drift issue open\n"
    assert fake.issues_labelled("drift") == []

    unexpected = dataclasses.replace(plan, attribution={mid(0): dataclasses.replace(expected, expected=())})
    report(reports, unexpected, TARGETS[0])
    opened = github(fake, ["drift-issue", "--reports", str(reports), str(path)], "2")
    [issue] = fake.issues_labelled("drift")
    assert opened.stdout == f"drift issue #{issue.number} opened: 1 drifted\n"
    assert f"changed by: UpdateMembership by {bob} (session bob)" in issue.body.replace("&#58;", ":")

    # The drift becomes expected (the principal is listed): the issue closes, saying what is left and why.
    report(reports, plan, TARGETS[0])
    closed = github(fake, ["drift-issue", "--reports", str(reports), str(path)], "3")
    assert closed.stdout == f"drift issue #{issue.number} closed: no drift\n"
    assert fake.comments_on(issue.number)[-1].body == (
        "No unexpected drift any more ([run](https://github.localhost/acme/cleanrooms/actions/runs/3)): 1 "
        "membership(s) differ only by principals drift.ignoreChangesBy lists (shown above)."
    )
