"""`reconciler github adopt-pr` and the drift issue's ways out, run as a workflow runs them (in-process, in
the checkout), against the local fake of GitHub's REST API: drift reports in; ONE adopt pull request on a
branch of its own, opened, moved, closed; a drift issue that links it and the apply workflow; and a check of
one membership (a change event's) that tells the issue without rewriting or closing it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.core.api import Where
from reconciler.core.plan import Plan

from ..fakegithub import FakeGitHub, GitCommit, running
from ..helpers import Result, run_cli, write_desired
from .test_publish import change, mid, report

WHERE = Where("us-east-1", "111122223333")
BASE = "b" * 40
BRANCH = "cleanrooms/adopt-live-settings"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with running() as server:
        server.git_commits[BASE] = GitCommit(BASE, "t" * 40, (), "main", {})
        yield server


def checkout(tmp_path: Path, count: int) -> Path:
    """A checkout whose desired state wants query logging on for `count` memberships."""
    for i in range(count):
        write_desired(
            tmp_path / "desired-state",
            f"m{i}.yaml",
            mid(i),
            region="us-east-1",
            accountId=WHERE.account,
            queryLogStatus="ENABLED",
        )
    return tmp_path


def drift_reports(root: Path, drifted: list[int], scope: tuple[str, ...] = ()) -> None:
    """The drift job's report: each of `drifted` has query logging off live (DISABLED, the file wants ENABLED)."""
    plan = dataclasses.replace(Plan.build([change(i, WHERE) for i in drifted]), scope=scope)
    report(root / "reports", plan, WHERE)


def github(fake: FakeGitHub, root: Path, args: list[str], run_id: str = "7") -> Result:
    variables = fake.env() | {
        "GITHUB_SERVER_URL": "https://github.localhost",
        "GITHUB_RUN_ID": run_id,
        "GITHUB_SHA": BASE,
        "GITHUB_REF_NAME": "main",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return run_cli(["github", *args], env=variables, cwd=root)


ADOPT = ["adopt-pr", "--reports", "reports", "desired-state"]


def test_one_adopt_pull_request_is_opened_moved_kept_and_closed_with_the_drift(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    root = checkout(tmp_path, 2)
    wanted = (root / "desired-state" / "m0.yaml").read_text()

    drift_reports(root, [0])
    night1 = github(fake, root, ADOPT, "1")
    assert night1.code == 0, night1.stderr
    [pull] = fake.pulls_from(BRANCH)
    assert json.loads(night1.stdout) == {"pullRequest": pull.number}
    assert night1.stderr == f"adopt pull request #{pull.number} opened from {BRANCH}\n"
    assert (pull.title, pull.state, pull.author) == ("Adopt live Clean Rooms settings", "open", "github-actions[bot]")
    assert pull.body.startswith("<!-- cleanrooms-reconciler:adopt -->\n### Adopt live Clean Rooms settings\n")
    assert f"- adopted desired-state/m0.yaml: membership {mid(0)}: queryLogStatus" in pull.body
    assert fake.branch_files(BRANCH) == {"desired-state/m0.yaml": wanted.replace('"ENABLED"', '"DISABLED"')}
    [first] = [c for c in fake.git_commits.values() if c.sha != BASE]
    assert first.parents == (BASE,) and first.message.startswith("Adopt live Clean Rooms settings\n\n")
    assert (root / "desired-state" / "m0.yaml").read_text() == wanted  # the checkout is never written

    night2 = github(fake, root, ADOPT, "2")  # the same drift: the branch already holds it, nothing is committed
    assert night2.stderr == f"adopt pull request #{pull.number} updated (its files unchanged)\n"
    assert len(fake.git_commits) == 2 and fake.refs[BRANCH] == first.sha

    drift_reports(root, [0, 1])
    night3 = github(fake, root, ADOPT, "3")
    assert night3.stderr == f"adopt pull request #{pull.number} updated (moved to new live values)\n"
    assert [p.number for p in fake.pulls_from(BRANCH)] == [pull.number]
    assert sorted(fake.branch_files(BRANCH)) == ["desired-state/m0.yaml", "desired-state/m1.yaml"]
    assert f"membership {mid(1)}" in fake.issues[pull.number].body
    assert fake.pulls[pull.number].head_sha == fake.refs[BRANCH] != first.sha

    drift_reports(root, [])
    night4 = github(fake, root, ADOPT, "4")
    assert night4.stderr == f"adopt pull request #{pull.number} closed: nothing to adopt\n"
    assert json.loads(night4.stdout) == {"pullRequest": None}
    assert fake.issues[pull.number].state == "closed"
    assert fake.comments_on(pull.number)[-1].body == (
        "Nothing to adopt ([run](https://github.localhost/acme/cleanrooms/actions/runs/4)): no drift any more. "
        "Closed by the drift check."
    )
    assert github(fake, root, ADOPT, "5").stderr == "nothing to adopt: no adopt pull request\n"


def test_a_partial_check_leaves_the_adopt_pull_request_as_it_is(fake: FakeGitHub, tmp_path: Path) -> None:
    root = checkout(tmp_path, 2)
    drift_reports(root, [0, 1])
    assert github(fake, root, ADOPT).code == 0
    [pull] = fake.pulls_from(BRANCH)
    writes = len(fake.writes())

    drift_reports(root, [], scope=(mid(0),))  # a change event's check of one membership: no drift there
    partial = github(fake, root, ADOPT)
    assert partial.code == 0, partial.stderr
    assert partial.stderr == (
        f"adopt pull request (#{pull.number}) left as it is: not every membership was checked ({WHERE.label})\n"
    )
    assert json.loads(partial.stdout) == {"pullRequest": pull.number}
    assert len(fake.writes()) == writes and fake.issues[pull.number].state == "open"


def test_a_report_naming_a_file_outside_the_desired_state_adopts_nothing_of_it(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    root = checkout(tmp_path, 1)
    stray = dataclasses.replace(change(0, WHERE), source="../elsewhere/m0.yaml")
    report(root / "reports", Plan.build([stray]), WHERE)
    result = github(fake, root, ADOPT)
    assert result.code == 0, result.stderr
    assert result.stderr == "nothing to adopt: no adopt pull request\n"
    assert fake.writes() == [] and fake.refs == {}


def test_the_drift_issue_offers_revert_by_the_apply_workflow_and_adopt_by_the_pull_request(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    root = checkout(tmp_path, 1)
    drift_reports(root, [0])
    issue_args = ["drift-issue", "--reports", "reports", "desired-state"]
    opened = github(fake, root, [*issue_args, "--adopt-pull-request", "12"])
    assert opened.code == 0, opened.stderr
    [issue] = fake.issues_labelled("drift")
    digest = Plan.from_json(json.loads(next((root / "reports").rglob("*.json")).read_text())).changes_hash()
    assert (
        "**Two ways out**\n\n"
        "- **revert** (the live settings go back to the desired state): run "
        "[apply](https://github.localhost/acme/cleanrooms/actions/workflows/apply.yml) with `approve` "
        f"<code>{WHERE.label}={digest}</code>\n"
        "- **adopt** (the desired state follows the live settings): merge #12\n"
    ) in issue.body

    bad = github(fake, root, [*issue_args, "--apply-workflow", "apply.yml)[x](https://evil.example"])
    assert bad.code == 1
    assert "is not a workflow file name (NAME.yml)" in bad.stderr


def test_a_check_of_one_membership_tells_the_issue_but_never_rewrites_or_closes_it(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    root = checkout(tmp_path, 2)
    issue_args = ["drift-issue", "--reports", "reports", "desired-state"]
    drift_reports(root, [0, 1])
    assert github(fake, root, issue_args, "1").code == 0  # the nightly check: both drifted
    [issue] = fake.issues_labelled("drift")
    nightly = issue.body

    drift_reports(root, [], scope=(mid(0),))  # an event: m0 was put back; m1 was not checked
    event = github(fake, root, [*issue_args, "--membership", mid(0)], "2")
    assert event.code == 0, event.stderr
    assert event.stdout == f"drift issue #{issue.number} told: no drift in 1 checked\n"
    assert fake.issues[issue.number].state == "open" and fake.issues[issue.number].body == nightly
    assert fake.comments_on(issue.number)[-1].body == (
        f"Checked `{mid(0)}` after a change ([run](https://github.localhost/acme/cleanrooms/actions/runs/2)): "
        "no unexpected drift. The issue stays open until a check of every membership."
    )

    drift_reports(root, [0], scope=(mid(0),))  # another event: m0 drifts again
    again = github(fake, root, [*issue_args, "--membership", mid(0)], "3")
    assert again.stdout == f"drift issue #{issue.number} told: 1 drifted of 1 checked\n"
    assert "### Clean Rooms drift: 1 drifted in 1 account/region target(s)" in fake.comments_on(issue.number)[-1].body
    assert fake.issues[issue.number].body == nightly

    # The event's check left no report (its job failed): still a check of one membership, never a close.
    (root / "reports" / f"plan-{WHERE.account}-{WHERE.region}" / "plan.json").unlink()
    failed = github(fake, root, [*issue_args, "--membership", mid(0)], "4")
    assert failed.code == 1
    assert fake.issues[issue.number].state == "open" and fake.issues[issue.number].body == nightly
    assert "it could not be checked" in fake.comments_on(issue.number)[-1].body


def test_an_event_with_no_issue_open_opens_one_only_when_its_membership_drifts(
    fake: FakeGitHub, tmp_path: Path
) -> None:
    root = checkout(tmp_path, 2)
    issue_args = ["drift-issue", "--reports", "reports", "--membership", mid(1), "desired-state"]
    drift_reports(root, [], scope=(mid(1),))
    assert github(fake, root, issue_args).stdout == "no drift; no drift issue open\n"
    drift_reports(root, [1], scope=(mid(1),))
    opened = github(fake, root, issue_args)
    [issue] = fake.issues_labelled("drift")
    assert opened.stdout == f"drift issue #{issue.number} opened: 1 drifted\n"
    # Its hash covers one membership, not the plan apply makes of the target: no value to approve.
    assert "with `approve` (the value a check of every membership gives: this one checked only some)" in issue.body
    assert "sha256:" not in issue.body.split("**Two ways out**")[1].split("| target |")[0]
