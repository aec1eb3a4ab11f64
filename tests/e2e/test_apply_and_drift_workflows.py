"""apply.yml and drift.yml under act: merge applies per target with an audit artifact each; the nightly drift
check keeps ONE issue, and a target it cannot check keeps that issue open and fails the run."""

from __future__ import annotations

import json

from reconciler.sandbox import CleanRoomsSandbox

from ..fakegithub import FakeGitHub
from .harness import Repository

OTHER = "111122223333"


def test_merge_applies_each_target_and_uploads_one_audit_log_per_target(
    repository: Repository, sandbox: CleanRoomsSandbox
) -> None:
    here = sandbox.create_membership("acme")
    there = sandbox.create_membership("globex", region="eu-west-1", account_id=OTHER)
    repository.write("desired-state/acme.yaml", f"membershipIdentifier: {here}\nqueryLogStatus: ENABLED\n")
    repository.write(
        "desired-state/globex.yaml",
        f'membershipIdentifier: {there}\nregion: eu-west-1\naccountId: "{OTHER}"\njobLogStatus: ENABLED\n',
    )
    sha = repository.commit("merge")
    run = repository.run("apply.yml", "push", {"ref": "refs/heads/main", "after": sha})
    assert run.code == 0, run.log
    assert sandbox.membership(here)["queryLogStatus"] == "ENABLED"
    assert sandbox.membership(there, "eu-west-1", OTHER)["jobLogStatus"] == "ENABLED"
    assert run.artifact_names() == [f"audit-{OTHER}-eu-west-1", "audit-default-us-east-1"]
    log = run.artifacts / str(run.run_id) / "audit-default-us-east-1" / "audit-default-us-east-1.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["membershipIdentifier"], line["outcome"]) for line in lines] == [(here, "sent"), (here, "ok")]


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
