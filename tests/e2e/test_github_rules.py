"""The workflows under the rules GitHub applies and act does not: concurrency queues, re-runs, permissions,
per-target approval, merge queues, tokens that are not `github-actions[bot]`, forks. Each story says which
rule the harness plays for GitHub."""

from __future__ import annotations

import re

from reconciler.sandbox import CleanRoomsSandbox, Fault

from ..fakegithub import FakeGitHub
from .harness import Arrival, Repository, jobs_after_cancel
from .test_apply_and_drift_workflows import OTHER, apply_reports, receipt, reviewed_pull_request, two_targets
from .test_plan_workflow import pull_request_event

NAMES = ("acme", "globex", "initech")


def query_logging_on(repository: Repository, sandbox: CleanRoomsSandbox) -> str:
    """A membership with query logging off, and a file that turns it on (not yet committed)."""
    mid = sandbox.create_membership("acme")
    repository.write("desired-state/acme.yaml", f"membershipIdentifier: {mid}\nqueryLogStatus: ENABLED\n")
    return mid


def test_three_merges_in_quick_succession_are_each_applied_in_order_and_a_drift_run_evicts_none(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    """GitHub's rule played: one pending run per concurrency group (a newer one cancels it) unless the group
    sets `queue: max`. The three merges' apply runs and a nightly drift run arrive while the first apply
    waits for approval; all four start, the applies in merge order, each at its own merge commit."""
    ids = {name: sandbox.create_membership(name) for name in NAMES}
    for name in NAMES:
        repository.write(f"desired-state/{name}.yaml", f"membershipIdentifier: {ids[name]}\nqueryLogStatus: DISABLED\n")
    base = repository.commit("three memberships, as they are")
    enabled = {name: f"membershipIdentifier: {ids[name]}\nqueryLogStatus: ENABLED\n" for name in NAMES}

    # Three pull requests from the same base, each planned and reviewed on its own head.
    pulls = {}
    for name in NAMES:
        repository.checkout(base)
        repository.write(f"desired-state/{name}.yaml", enabled[name])
        head = repository.commit(f"{name}: query logging on")
        pulls[name] = github.open_pull(head)
        planned = repository.run("plan.yml", "pull_request", pull_request_event(pulls[name], head))
        assert planned.code == 0, planned.log

    # Merged one after another; main holds each change on top of the last.
    repository.checkout(base)
    merges = {}
    for name in NAMES:
        repository.write(f"desired-state/{name}.yaml", enabled[name])
        merges[name] = repository.commit(f"Merge pull request #{pulls[name]}")
        github.merge(pulls[name], merges[name])

    push = [Arrival("apply.yml", "push", {"ref": "refs/heads/main", "after": merges[n]}, merges[n]) for n in NAMES]
    nightly = Arrival("drift.yml", "schedule", {"schedule": "17 4 * * *"}, merges["initech"])
    runs = repository.run_arrivals([push[0], nightly, push[1], push[2]])

    assert [arrival for arrival, _ in runs] == [push[0], nightly, push[1], push[2]]  # none cancelled
    for _, run in runs:
        assert run.code == 0, run.log
    assert [r.membership_id for r in sandbox.requests("UpdateMembership")] == [ids[n] for n in NAMES]
    assert {sandbox.membership(ids[n])["queryLogStatus"] for n in NAMES} == {"ENABLED"}
    for name in NAMES:
        [result] = apply_reports(github, pulls[name])
        assert "| `default/us-east-1` | applied | 1 of 1 |" in result.body


THIRD = "444455556666"


def test_one_drifted_target_among_three_holds_back_only_itself_until_approved_by_hand(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    """GitHub's rule played: a job asks its environment's reviewers only when it runs; so only targets whose
    plan on main is the reviewed one get an apply job (and an approval request)."""
    here, there = two_targets(repository, sandbox)
    third = sandbox.create_membership("initech", region="us-west-2", account_id=THIRD)
    repository.write(
        "desired-state/initech.yaml",
        f'membershipIdentifier: {third}\nregion: us-west-2\naccountId: "{THIRD}"\nqueryLogStatus: ENABLED\n',
    )
    pr, merge = reviewed_pull_request(repository, github)
    sandbox.write(there, {"jobLogStatus": "DISABLED"}, region="eu-west-1", account_id=OTHER)  # by hand, meanwhile

    run = repository.run("apply.yml", "push", {"ref": "refs/heads/main", "after": merge})
    assert run.code != 0
    results = run.job_results()
    assert results["apply/report"] == "failed"  # not every target is done
    assert sorted(k for k in results if k.startswith("apply/apply")) == ["apply/apply-1", "apply/apply-2"]
    assert sandbox.membership(here)["queryLogStatus"] == "ENABLED"
    assert sandbox.membership(third, "us-west-2", THIRD)["queryLogStatus"] == "ENABLED"
    assert {r.membership_id for r in sandbox.requests("UpdateMembership")} == {here, third}
    assert "not applied: 111122223333/eu-west-1: the plan on main is not the one reviewed" in run.log

    [explained] = apply_reports(github, pr)
    assert "| `default/us-east-1` | applied | 1 of 1 |" in explained.body
    assert f"| `{THIRD}/us-west-2` | applied | 1 of 1 |" in explained.body
    assert f"| `{OTHER}/eu-west-1` | not applied |" in explained.body
    assert f"- `{OTHER}/eu-west-1`: the plan on main is not the one reviewed" in explained.body
    approve = re.search(r"- `approve`: `([^`]+)`", explained.body)
    assert approve is not None and re.fullmatch(rf"{OTHER}/eu-west-1=sha256:[0-9a-f]{{64}}", approve.group(1))
    assert 'jobLogStatus: "DISABLED" -> "ENABLED"' in explained.body  # the plan that stands now, shown

    # The one step the comment gives: a manual run approving that plan, for that target alone.
    approved = repository.run(
        "apply.yml", "workflow_dispatch", {"inputs": {"approve": approve.group(1), "pull-request": str(pr)}}
    )
    assert approved.code == 0, approved.log
    assert sandbox.membership(there, "eu-west-1", OTHER)["jobLogStatus"] == "ENABLED"
    assert receipt(approved, f"receipt-{OTHER}-eu-west-1")["result"] == "applied"
    [_, finished] = apply_reports(github, pr)
    assert "| `default/us-east-1` | not in this run |" in finished.body
    assert f"| `{OTHER}/eu-west-1` | applied | 1 of 1 |" in finished.body
    assert "Not finished" not in finished.body


def test_a_merge_whose_plans_are_all_empty_asks_no_one_to_approve_anything(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    """GitHub's rule played: an apply job that runs asks the environment's reviewers, whatever it holds."""
    mid = sandbox.create_membership("acme", queryLogStatus="ENABLED")
    repository.write("desired-state/acme.yaml", f"membershipIdentifier: {mid}\nqueryLogStatus: ENABLED\n")
    pr, merge = reviewed_pull_request(repository, github, "a comment in the file, no setting changed")
    run = repository.run("apply.yml", "push", {"ref": "refs/heads/main", "after": merge})
    assert run.code == 0, run.log
    results = run.job_results()
    assert results["apply/gate"] == "succeeded" and results["apply/report"] == "succeeded"
    assert not any(k.startswith("apply/apply") for k in results)  # no job in the environment: no approval asked
    assert sandbox.requests("UpdateMembership") == []
    [result] = apply_reports(github, pr)
    assert "| `default/us-east-1` | nothing to apply |" in result.body


def test_a_partly_failed_apply_re_runs_cleanly_and_its_report_gives_the_one_step_that_finishes_it(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    """GitHub's rules played: all attempts of a run share its artifacts, and a name is uploaded once unless
    `overwrite` (artifacts v4); a re-run is the same run id with the next `github.run_attempt`."""
    first, second = sandbox.create_membership("acme"), sandbox.create_membership("globex")
    for name, mid in (("acme", first), ("globex", second)):
        repository.write(f"desired-state/{name}.yaml", f"membershipIdentifier: {mid}\nqueryLogStatus: ENABLED\n")
    pr, merge = reviewed_pull_request(repository, github)
    sandbox.inject("UpdateMembership", sequence=[Fault(403)], membership_id=second)  # refused, once

    push = {"ref": "refs/heads/main", "after": merge}
    partial = repository.run("apply.yml", "push", push)
    assert partial.code != 0
    assert [sandbox.membership(m)["queryLogStatus"] for m in (first, second)] == ["ENABLED", "DISABLED"]
    assert partial.job_results()["apply/apply"] == "failed"
    [report] = apply_reports(github, pr)
    assert "| `default/us-east-1` | incomplete | 1 of 2 |" in report.body
    assert "- `default/us-east-1`: the apply did not finish (1 of 2 done)" in report.body
    approve = re.search(r"- `approve`: `default/us-east-1=(sha256:[0-9a-f]{64})`", report.body)
    assert approve is not None
    assert f"<code>{second}</code> globex: 1 field(s)" in report.body  # what is left, and only that
    assert f"<code>{first}</code>" not in report.body.split("**Not finished:**")[1]
    assert "remaining-default-us-east-1-attempt-1" in partial.artifact_names()

    again = repository.run("apply.yml", "push", push, again=partial)  # "Re-run"
    assert f"already exists in run {partial.run_id}" not in again.log  # artifacts: no name uploaded twice
    assert again.job_results()["apply/gate"] == "succeeded"
    assert "not applied: default/us-east-1: the plan on main is not the one reviewed" in again.log
    assert "receipt-default-us-east-1-attempt-1" in again.artifact_names()  # the first attempt's record stays
    [_, report2] = apply_reports(github, pr)
    assert f"- `approve`: `default/us-east-1={approve.group(1)}`" in report2.body  # the same way forward

    inputs = {"approve": f"default/us-east-1={approve.group(1)}", "pull-request": str(pr)}
    finished = repository.run("apply.yml", "workflow_dispatch", {"inputs": inputs})
    assert finished.code == 0, finished.log
    assert sandbox.membership(second)["queryLogStatus"] == "ENABLED"
    assert [r.membership_id for r in sandbox.requests("UpdateMembership") if r.status == 200] == [first, second]
    [*_, done] = apply_reports(github, pr)
    assert "| `default/us-east-1` | applied | 1 of 1 |" in done.body and "Not finished" not in done.body


def test_a_github_app_token_makes_and_finds_the_plan_comment_and_a_forged_one_is_not_taken(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    """GitHub's rule played: what a token creates is authored by whom the token belongs to (an App's
    installation token: APP-SLUG[bot]); an installation token cannot ask GET /user who it is."""
    github.tokens["app-installation-token"] = ("cleanrooms-bot[bot]", False)
    repository.secrets["CLEANROOMS_GITHUB_TOKEN"] = "app-installation-token"
    repository.variables["CLEANROOMS_COMMENT_AUTHOR"] = "cleanrooms-bot[bot]"
    mid = query_logging_on(repository, sandbox)
    head = repository.commit("query logging on")
    pr = github.open_pull(head)
    for _ in range(2):  # a push, then the same commit planned again: the one comment is edited, not added
        planned = repository.run("plan.yml", "pull_request", pull_request_event(pr, head))
        assert planned.code == 0, planned.log
    [comment] = github.comments_on(pr)
    assert comment.author == "cleanrooms-bot[bot]" and comment.edits == 1
    # Someone pastes the comment, hidden markers and all, with a hash of their own choosing.
    forged = comment.body.replace("sha256:", "sha256:0", 1)
    github.add_comment(pr, forged, "mallory")

    merge = repository.commit(f"Merge pull request #{pr}")
    github.merge(pr, merge)
    run = repository.run("apply.yml", "push", {"ref": "refs/heads/main", "after": merge})
    assert run.code == 0, run.log
    assert sandbox.membership(mid)["queryLogStatus"] == "ENABLED"
    [result] = apply_reports(github, pr)
    assert result.author == "cleanrooms-bot[bot]"
    assert "| `default/us-east-1` | applied | 1 of 1 |" in result.body


def test_a_forks_pull_request_is_validated_and_told_why_it_is_not_planned_with_no_red_x(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    """GitHub's rule played: a fork's `pull_request` run gets no OIDC token and a read-only token."""
    query_logging_on(repository, sandbox)
    head = repository.commit("from a fork")
    pr = github.open_pull(head, author="mallory")
    run = repository.run("plan.yml", "pull_request", pull_request_event(pr, head, "mallory/cleanrooms"), fork=True)
    assert run.code == 0, run.log
    # plan and comment skipped, nothing failed; the check to require passes (apply finds no plan to apply)
    assert run.job_results() == {"plan/targets": "succeeded", "plan/Clean Rooms plan": "succeeded"}
    assert "this pull request comes from a fork: validated, not planned" in run.log.split("\n[e2e]")[0]
    assert sandbox.requests() == [] and github.calls == []


def test_a_push_that_does_not_validate_marks_the_plan_comment_outdated_and_nothing_can_be_applied_from_it(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    mid = query_logging_on(repository, sandbox)
    first = repository.commit("query logging on")
    pr = github.open_pull(first)
    assert repository.run("plan.yml", "pull_request", pull_request_event(pr, first)).code == 0
    [comment] = github.comments_on(pr)
    assert "_Planned for commit `" + first[:12] + "` at " in comment.body

    repository.write("desired-state/acme.yaml", f"membershipIdentifier: {mid}\nqueryLogStatus: MAYBE\n")
    broken = repository.commit("a typo")
    github.pulls[pr].head_sha = broken
    sandbox.clear_requests()
    run = repository.run("plan.yml", "pull_request", pull_request_event(pr, broken))
    assert run.code != 0
    results = run.job_results()
    assert (results["plan/targets"], results["plan/comment"], results["plan/Clean Rooms plan"]) == (
        "failed",
        "succeeded",
        "failed",  # the check to require
    )
    assert "comes from a fork" not in run.log
    [outdated] = github.comments_on(pr)
    assert outdated.id == comment.id and outdated.author == "github-actions[bot]"
    assert "> :warning: **Outdated**: the desired state at the latest commit does not validate" in outdated.body
    assert f"(Marked for commit `{broken[:12]}` at " in outdated.body
    assert "changes-hash" not in outdated.body
    assert sandbox.requests() == []


def test_a_merge_queues_merge_commit_is_planned_as_the_required_check_and_nothing_is_commented(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    """GitHub's rule played: a merge queue runs the required checks on its temporary merge commit
    (`merge_group`), with no pull request in the event."""
    mid = query_logging_on(repository, sandbox)
    sha = repository.commit("the queue's merge commit")
    event = {
        "merge_group": {
            "head_sha": sha,
            "head_ref": "refs/heads/gh-readonly-queue/main/pr-1",
            "base_ref": "refs/heads/main",
        }
    }
    run = repository.run("plan.yml", "merge_group", event)
    assert run.code == 0, run.log
    results = run.job_results()
    assert (results["plan/targets"], results["plan/plan"], results["plan/Clean Rooms plan"]) == ("succeeded",) * 3
    assert "plan/comment" not in results and github.writes() == []
    assert [r.membership_id for r in sandbox.requests("GetMembership")] == [mid]
    assert run.artifact_names() == ["plan-default-us-east-1"]


def test_a_merge_queue_batch_of_two_pull_requests_applies_both_and_tells_each(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    """GitHub's rule played: a merge queue merges a batch as one push to main holding each pull request's
    merge commit (`before`..`after`); the push event's commit is only the last one's."""
    here, there = two_targets(repository, sandbox)
    files = {"acme": (repository.root / "desired-state/acme.yaml").read_text()}
    files["globex"] = (repository.root / "desired-state/globex.yaml").read_text()
    for name in files:
        repository.remove(f"desired-state/{name}.yaml")
    repository.write("desired-state/acme.yaml", f"membershipIdentifier: {here}\nqueryLogStatus: DISABLED\n")
    repository.write(
        "desired-state/globex.yaml",
        f'membershipIdentifier: {there}\nregion: eu-west-1\naccountId: "{OTHER}"\njobLogStatus: DISABLED\n',
    )
    sandbox.write(there, {"jobLogStatus": "DISABLED"}, region="eu-west-1", account_id=OTHER)
    base = repository.commit("as they are")
    pulls, heads = {}, {}
    for name, text in files.items():  # two pull requests from one base, one per account/region, each reviewed
        repository.checkout(base)
        repository.write(f"desired-state/{name}.yaml", text)
        heads[name] = repository.commit(f"{name}: logging on")
        pulls[name] = github.open_pull(heads[name])
        planned = repository.run("plan.yml", "pull_request", pull_request_event(pulls[name], heads[name]))
        assert planned.code == 0, planned.log
    repository.checkout(base)
    merges = []
    for name, text in files.items():  # the queue's batch: each pull request's merge commit, pushed at once
        repository.write(f"desired-state/{name}.yaml", text)
        merges.append(repository.commit(f"Merge pull request #{pulls[name]}"))
        github.merge(pulls[name], merges[-1])

    run = repository.run("apply.yml", "push", {"ref": "refs/heads/main", "before": base, "after": merges[-1]})
    assert run.code == 0, run.log
    assert sandbox.membership(here)["queryLogStatus"] == "ENABLED"
    assert sandbox.membership(there, "eu-west-1", OTHER)["jobLogStatus"] == "ENABLED"
    for name, label in (("acme", "default/us-east-1"), ("globex", f"{OTHER}/eu-west-1")):
        [result] = apply_reports(github, pulls[name])
        assert f"| `{label}` | applied | 1 of 1 |" in result.body


def test_a_superseded_plan_run_never_overwrites_the_newer_runs_comment(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    """GitHub's rules played: with `cancel-in-progress`, a newer push's run cancels the older one of its
    group; a run cancelled part way still starts its jobs whose `if:` holds once cancelled (`always()`)."""
    query_logging_on(repository, sandbox)
    first = repository.commit("query logging on")
    pr = github.open_pull(first)
    repository.write(
        "desired-state/acme.yaml", (repository.root / "desired-state/acme.yaml").read_text() + "jobLogStatus: ENABLED\n"
    )
    second = repository.commit("and job logging")
    github.pulls[pr].head_sha = second
    pushes = [Arrival("plan.yml", "pull_request", pull_request_event(pr, sha), sha) for sha in (first, second)]

    # The first run is cancelled while its plans run: of its jobs not yet started, GitHub still starts the
    # aggregate check (it fails: cancelled), and not the comment, which would post its missing reports.
    assert jobs_after_cancel(repository.root / ".github" / "workflows" / "plan.yml") == ["result"]
    runs = repository.run_arrivals(pushes)
    assert [arrival for arrival, _ in runs] == [pushes[1]]
    assert runs[0][1].code == 0, runs[0][1].log
    [comment] = github.comments_on(pr)
    assert f"_Planned for commit `{second[:12]}` at " in comment.body
    assert ":x:" not in comment.body and "2 field(s)" in comment.body
