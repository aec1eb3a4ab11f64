"""The workflows under the rules GitHub applies and act does not: concurrency queues, re-runs, permissions,
per-target approval, merge queues, tokens that are not `github-actions[bot]`, forks. Each story says which
rule the harness plays for GitHub."""

from __future__ import annotations

from reconciler.sandbox import CleanRoomsSandbox

from ..fakegithub import FakeGitHub
from .harness import Arrival, Repository
from .test_plan_workflow import pull_request_event

NAMES = ("acme", "globex", "initech")


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
        [result] = [c for c in github.comments_on(pulls[name]) if "cleanrooms-reconciler:apply" in c.body]
        assert "| `default/us-east-1` | applied | 1 of 1 |" in result.body
