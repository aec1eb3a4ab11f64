"""A membership's life from git under act: a pull request that adds a join file is planned (the comment shows
the join), merged it creates the membership with every setting in one call, and the nightly drift issue lists
the invitation no file joins."""

from __future__ import annotations

from reconciler.sandbox import CleanRoomsSandbox

from ..fakegithub import FakeGitHub
from .harness import Repository
from .test_apply_and_drift_workflows import apply_reports
from .test_plan_workflow import pull_request_event

OTHER = "111122223333"


def test_a_join_file_is_planned_applied_on_merge_and_the_drift_issue_lists_pending_invitations(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    acme = sandbox.create_membership("acme", account_id=OTHER, queryLogStatus="ENABLED")
    repository.write(
        "desired-state/acme.yaml", f'membershipIdentifier: {acme}\naccountId: "{OTHER}"\nqueryLogStatus: ENABLED\n'
    )
    repository.commit("acme, as it is")
    joined = sandbox.invite("retail-measurement", account_id=OTHER, creator_name="Globex")
    pending = sandbox.invite("pending-one", account_id=OTHER, creator_name="Initech")

    repository.write(
        "desired-state/retail.yaml",
        f'collaborationIdentifier: {joined}\naccountId: "{OTHER}"\nqueryLogStatus: ENABLED\n'
        "tags:\n  cost-centre: cc-7\n",
    )
    head = repository.commit("join retail-measurement")
    pr = github.open_pull(head)
    planned = repository.run("plan.yml", "pull_request", pull_request_event(pr, head))
    assert planned.code == 0, planned.log
    [comment] = github.comments_on(pr)
    assert "### Clean Rooms plan: 1 to change in 1 account/region target(s)" in comment.body
    invited = "retail-measurement (invited by Globex, account 999988887777)"
    assert f"<summary><code>join</code> {invited}: 2 field(s)</summary>" in comment.body
    assert f"| `join` | {invited} | " in comment.body
    assert sandbox.requests("CreateMembership") == []

    merge = repository.commit(f"Merge pull request #{pr}")
    github.merge(pr, merge)
    applied = repository.run("apply.yml", "push", {"ref": "refs/heads/main", "after": merge})
    assert applied.code == 0, applied.log
    [create] = sandbox.requests("CreateMembership")
    assert create.body == {
        "collaborationIdentifier": joined,
        "queryLogStatus": "ENABLED",
        "tags": {"cost-centre": "cc-7"},
    }
    membership = sandbox.collaboration(joined, account_id=OTHER)["membershipId"]
    assert sandbox.membership(membership, account_id=OTHER)["queryLogStatus"] == "ENABLED"
    [report] = apply_reports(github, pr)
    assert f"| `{OTHER}/us-east-1` | applied | 1 of 1 |" in report.body

    sandbox.write(acme, {"queryLogStatus": "DISABLED"}, account_id=OTHER)  # someone switches logging off
    night = repository.run("drift.yml", "schedule", {"schedule": "17 4 * * *"})
    assert night.code == 0, night.log
    [issue] = github.issues_labelled("drift")
    assert "1 drifted in 1 account/region target(s)" in issue.body
    assert "**Invitations**: 1 pending invitation(s) no file joins" in issue.body
    assert f"collaboration pending-one ({pending}), invited by Initech, account 999988887777" in issue.body
    assert "retail-measurement" not in issue.body.split("**Invitations**")[1]
