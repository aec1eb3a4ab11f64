"""The action's install under act: one job installs the reconciler from the lock into an environment of its
own and saves it in the Actions cache; every later job, in the run or a later one, restores it instead. A
change to what the environment is made of (CEL wanted) makes a new one."""

from __future__ import annotations

import re
from pathlib import Path

from reconciler.edges.aws.client import CREDENTIAL_SERVICES, SERVICES
from reconciler.sandbox import CleanRoomsSandbox

from ..fakegithub import FakeGitHub
from .harness import Repository, Run
from .test_plan_workflow import pull_request_event

READY = re.compile(r"reconciler ready in [0-9.]+ s: (installed from the lock|restored from the cache)")


def installs(run: Run) -> list[str]:
    """How each job that used the action got the reconciler, in the log's order."""
    return READY.findall(run.log)


def two_targets(tmp: Path, sandbox: CleanRoomsSandbox, github: FakeGitHub) -> tuple[Repository, str, int]:
    """A repository with an empty Actions cache and a pull request turning query logging on in two accounts
    (so the plan workflow has four jobs that use the action): the repository, its head and the pull request."""
    repository = Repository.create(tmp, sandbox, github, cache=tmp / "actions-cache")
    for account in ("111122223333", "444455556666"):
        mid = sandbox.create_membership(f"retail-{account}", account_id=account, queryLogStatus="DISABLED")
        repository.write(
            f"desired-state/{account}.yaml",
            f'membershipIdentifier: {mid}\naccountId: "{account}"\nqueryLogStatus: ENABLED\n',
        )
    sha = repository.commit("query logging on in two accounts")
    return repository, sha, github.open_pull(sha)


def test_the_first_job_installs_and_every_later_job_restores_the_install(
    tmp_path: Path, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    repository, sha, pr = two_targets(tmp_path, sandbox, github)

    # targets, two plan legs and the comment: four jobs use the action; targets runs first, alone.
    first = repository.run("plan.yml", "pull_request", pull_request_event(pr, sha))
    assert first.code == 0, first.log
    assert installs(first) == ["installed from the lock"] + ["restored from the cache"] * 3
    assert first.log.count("Cache saved with key: cleanrooms-reconciler-") == 1
    [saved] = list(repository.cache.iterdir())
    [models] = saved.glob("lib/python3*/site-packages/botocore/data")  # only those the reconciler loads
    assert sorted(p.name for p in models.iterdir() if p.is_dir()) == sorted(SERVICES + CREDENTIAL_SERVICES)
    assert "no policies in reconciler.yaml: CEL not installed" in first.log
    [comment] = github.comments_on(pr)
    assert "### Clean Rooms plan: 2 to change in 2 account/region target(s)" in comment.body

    # A later run of the same code: nothing installed at all.
    again = repository.run("plan.yml", "pull_request", pull_request_event(pr, repository.commit("again")))
    assert again.code == 0, again.log
    assert installs(again) == ["restored from the cache"] * 4
    assert list(repository.cache.iterdir()) == [saved]

    # Policies in reconciler.yaml want CEL: an environment of another key, installed once, with CEL.
    repository.write(
        "reconciler.yaml",
        "policies:\n  - name: query-logging-on\n    rule: \"membership.queryLogStatus == 'ENABLED'\"\n"
        "    message: query logging must stay on\n",
    )
    policed = repository.run("plan.yml", "pull_request", pull_request_event(pr, repository.commit("a policy")))
    assert policed.code == 0, policed.log
    assert installs(policed) == ["installed from the lock"] + ["restored from the cache"] * 3
    assert "reconciler.yaml has policies: CEL installed" in policed.log
    assert len(list(repository.cache.iterdir())) == 2
