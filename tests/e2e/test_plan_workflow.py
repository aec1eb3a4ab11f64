"""plan.yml under act: ONE comment per pull request, however many targets and memberships."""

from __future__ import annotations

from reconciler.sandbox import CleanRoomsSandbox

from ..fakegithub import FakeGitHub
from .harness import OWNER_REPO, Repository


def pull_request_event(number: int, sha: str, head_repository: str = OWNER_REPO) -> dict[str, object]:
    head = {"sha": sha, "repo": {"full_name": head_repository}}
    return {"number": number, "pull_request": {"number": number, "head": head}}


def test_a_pull_request_gets_one_plan_comment_edited_on_the_next_push(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    mid = sandbox.create_membership("acme-retail", queryLogStatus="DISABLED")
    repository.write("desired-state/acme.yaml", f"membershipIdentifier: {mid}\nqueryLogStatus: ENABLED\n")
    sha = repository.commit("query logging on")
    pr = github.open_pull(sha)

    first = repository.run("plan.yml", "pull_request", pull_request_event(pr, sha))
    assert first.code == 0, first.log
    assert "no policies in reconciler.yaml: CEL not installed" in first.log  # the 50 MB it does not need
    [comment] = github.comments_on(pr)
    assert "### Clean Rooms plan: 1 to change in 1 account/region target(s)" in comment.body
    assert f"<code>{mid}</code> acme-retail: 1 field(s)" in comment.body
    assert first.artifact_names() == ["plan-default-us-east-1"]

    repository.write(
        "desired-state/acme.yaml", f"membershipIdentifier: {mid}\nqueryLogStatus: ENABLED\njobLogStatus: ENABLED\n"
    )
    second = repository.run("plan.yml", "pull_request", pull_request_event(pr, repository.commit("job logging on")))
    assert second.code == 0, second.log
    [edited] = github.comments_on(pr)
    assert edited.id == comment.id and edited.edits == 1
    assert f"<code>{mid}</code> acme-retail: 2 field(s)" in edited.body
    assert [(c.method, c.status) for c in github.writes()] == [("POST", 201), ("PATCH", 200)]
    assert sandbox.requests("UpdateMembership") == []


OTHER = "111122223333"


def test_three_targets_and_1500_memberships_give_one_comment_within_githubs_limit(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    targets = [(None, "us-east-1"), (OTHER, "us-east-1"), (OTHER, "eu-west-1")]
    for t, (account, region) in enumerate(targets):
        for i in range(500):
            mid = sandbox.create_membership(f"c{t}-{i}", region=region, account_id=account)
            guard = f'accountId: "{account}"\n' if account else ""
            settings = "queryLogStatus: ENABLED\njobLogStatus: ENABLED\n"
            repository.write(
                f"desired-state/t{t}/m{i:03d}.yaml", f"membershipIdentifier: {mid}\nregion: {region}\n{guard}{settings}"
            )
    sha = repository.commit("1,500 memberships in three places")
    pr = github.open_pull(sha)

    run = repository.run("plan.yml", "pull_request", pull_request_event(pr, sha))
    assert run.code == 0, run.log
    [comment] = github.comments_on(pr)
    assert len(comment.body) <= 65_536
    assert "### Clean Rooms plan: 1500 to change in 3 account/region target(s)" in comment.body
    for label in ["default/us-east-1", f"{OTHER}/eu-west-1", f"{OTHER}/us-east-1"]:
        assert f"| `{label}` | 500 | 500 | 0 | 0 |" in comment.body
    shown = comment.body.count("<details>")
    assert f"**Not shown** (a comment holds at most 65,536 characters): {1500 - shown} change(s)." in comment.body
    assert f"[this run](https://github.localhost/acme/cleanrooms/actions/runs/{run.run_id})" in comment.body
    names = ["plan-111122223333-eu-west-1", "plan-111122223333-us-east-1", "plan-default-us-east-1"]
    assert run.artifact_names() == names
    full = run.artifacts / str(run.run_id) / names[0] / f"{names[0]}.md"
    assert full.read_text().count("<details>") == 500  # the artifact holds the whole plan


def test_a_policy_violation_is_an_annotation_on_the_offending_line_and_nothing_is_planned(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    mid = sandbox.create_membership("acme-retail", queryLogStatus="ENABLED")
    repository.write(
        "reconciler.yaml",
        "policies:\n"
        "  - name: query-logging-on\n"
        "    rule: \"membership.queryLogStatus == 'ENABLED'\"\n"
        "    message: query logging must stay on in every membership\n",
    )
    repository.write("desired-state/acme.yaml", f"membershipIdentifier: {mid}\n# why\nqueryLogStatus: DISABLED\n")
    sha = repository.commit("turn query logging off")
    pr = github.open_pull(sha)

    run = repository.run("plan.yml", "pull_request", pull_request_event(pr, sha))
    assert run.code != 0, run.log
    assert "reconciler.yaml has policies: CEL installed" in run.log
    # The runner turns this workflow command into an annotation on line 3 of the file in the diff.
    assert (
        "::error file=desired-state/acme.yaml,line=3,col=1::policy query-logging-on: "
        "query logging must stay on in every membership"
    ) in run.log
    assert sandbox.requests() == []
    assert github.comments_on(pr) == []
