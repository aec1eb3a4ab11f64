"""apply.yml and drift.yml under act: merge applies per target with an audit artifact each; the nightly drift
check keeps ONE issue, and a target it cannot check keeps that issue open and fails the run."""

from __future__ import annotations

import json
from typing import Any

from reconciler.sandbox import CleanRoomsSandbox

from ..fakegithub import Comment, FakeGitHub
from .harness import Repository, Run
from .test_plan_workflow import pull_request_event

OTHER = "111122223333"


def two_targets(repository: Repository, sandbox: CleanRoomsSandbox) -> tuple[str, str]:
    here = sandbox.create_membership("acme")
    there = sandbox.create_membership("globex", region="eu-west-1", account_id=OTHER)
    repository.write("desired-state/acme.yaml", f"membershipIdentifier: {here}\nqueryLogStatus: ENABLED\n")
    repository.write(
        "desired-state/globex.yaml",
        f'membershipIdentifier: {there}\nregion: eu-west-1\naccountId: "{OTHER}"\njobLogStatus: ENABLED\n',
    )
    return here, there


def reviewed_pull_request(
    repository: Repository, github: FakeGitHub, message: str = "query and job logging on"
) -> tuple[int, str]:
    """A pull request planned at its head commit, then merged: the merge commit's sha."""
    head = repository.commit(message)
    pr = github.open_pull(head)
    planned = repository.run("plan.yml", "pull_request", pull_request_event(pr, head))
    assert planned.code == 0, planned.log
    merge = repository.commit(f"Merge pull request #{pr}")
    github.merge(pr, merge)
    return pr, merge


def apply_reports(github: FakeGitHub, pr: int) -> list[Comment]:
    """The apply runs' result comments on a pull request, oldest first."""
    return [c for c in github.comments_on(pr) if "cleanrooms-reconciler:apply" in c.body]


def receipt(run: Run, name: str) -> dict[str, Any]:
    """The receipt `name` (receipt-ACCOUNT-REGION) this attempt of the run uploaded."""
    folder = run.artifacts / str(run.run_id) / f"{name}-attempt-{run.attempt}"
    document: dict[str, Any] = json.loads((folder / f"{name}.json").read_text())
    return document


def test_a_reviewed_pull_request_merges_and_applies_with_a_receipt_and_an_audit_log_per_target(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    here, there = two_targets(repository, sandbox)
    pr, merge = reviewed_pull_request(repository, github)
    run = repository.run("apply.yml", "push", {"ref": "refs/heads/main", "after": merge})
    assert run.code == 0, run.log
    assert sandbox.membership(here)["queryLogStatus"] == "ENABLED"
    assert sandbox.membership(there, "eu-west-1", OTHER)["jobLogStatus"] == "ENABLED"
    assert [n for n in run.artifact_names() if not n.startswith("plan-")] == [
        f"audit-{OTHER}-eu-west-1-attempt-1",
        "audit-default-us-east-1-attempt-1",
        f"receipt-{OTHER}-eu-west-1-attempt-1",
        "receipt-default-us-east-1-attempt-1",
    ]
    log = run.artifacts / str(run.run_id) / "audit-default-us-east-1-attempt-1" / "audit-default-us-east-1.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["membershipIdentifier"], line["outcome"]) for line in lines] == [(here, "sent"), (here, "ok")]
    document = receipt(run, "receipt-default-us-east-1")
    assert (document["result"], document["pullRequest"], document["commit"]) == ("applied", pr, merge)
    assert document["reviewedHash"] == document["appliedHash"]
    assert document["memberships"][0]["fields"] == {"queryLogStatus": {"before": "DISABLED", "after": "ENABLED"}}
    [result] = apply_reports(github, pr)
    assert "| `default/us-east-1` | applied | 1 of 1 |" in result.body


def test_a_push_to_main_without_a_pull_request_applies_nothing(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    two_targets(repository, sandbox)
    sha = repository.commit("pushed straight to main")
    run = repository.run("apply.yml", "push", {"ref": "refs/heads/main", "after": sha})
    assert run.code != 0
    assert sandbox.requests("UpdateMembership") == []
    results = run.job_results()
    assert results["apply/review"] == "succeeded" and results["apply/report"] == "failed"
    assert "apply/apply-1" not in results and "apply/apply" not in results  # never reached the environment
    assert "did not come from a pull request merged into main: nothing was reviewed" in run.log
    assert github.writes() == []


def test_nightly_drift_opens_updates_and_closes_one_issue_and_a_target_it_cannot_check_fails_the_run(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    here = sandbox.create_membership("acme", queryLogStatus="ENABLED")
    there = sandbox.create_membership("globex", region="eu-west-1", account_id=OTHER, queryLogStatus="ENABLED")
    repository.write("desired-state/acme.yaml", f"membershipIdentifier: {here}\nqueryLogStatus: ENABLED\n")
    repository.write(
        "desired-state/globex.yaml",
        f'membershipIdentifier: {there}\nregion: eu-west-1\naccountId: "{OTHER}"\nqueryLogStatus: ENABLED\n',
    )
    repository.commit("desired state")
    nightly = {"schedule": "17 4 * * *"}

    sandbox.write(here, {"queryLogStatus": "DISABLED"})  # someone switches logging off by hand
    night1 = repository.run("drift.yml", "schedule", nightly)
    assert night1.code == 0, night1.log
    [issue] = github.issues_labelled("drift")
    assert issue.state == "open" and "1 drifted in 2 account/region target(s)" in issue.body

    sandbox.write(there, {"queryLogStatus": "DISABLED"}, region="eu-west-1", account_id=OTHER)
    night2 = repository.run("drift.yml", "schedule", nightly)
    assert night2.code == 0, night2.log
    assert [i.number for i in github.issues_labelled("drift")] == [issue.number]
    assert "2 drifted in 2 account/region target(s)" in github.comments_on(issue.number)[-1].body

    # The drift is fixed by hand, but one target cannot be checked: its membership is gone.
    sandbox.write(here, {"queryLogStatus": "ENABLED"})
    sandbox.set_status(there, "REMOVED", region="eu-west-1", account_id=OTHER)
    night3 = repository.run("drift.yml", "schedule", nightly)
    assert night3.code != 0
    assert night3.job_results()["drift/report"] == "failed"
    assert github.issues[issue.number].state == "open"
    assert f"`{OTHER}/eu-west-1`" in github.comments_on(issue.number)[-1].body

    sandbox.set_status(there, "ACTIVE", region="eu-west-1", account_id=OTHER)
    sandbox.write(there, {"queryLogStatus": "ENABLED"}, region="eu-west-1", account_id=OTHER)
    night4 = repository.run("drift.yml", "schedule", nightly)
    assert night4.code == 0, night4.log
    assert github.issues[issue.number].state == "closed"
    assert github.issues_labelled("drift") == [github.issues[issue.number]]
