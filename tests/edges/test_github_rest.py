"""The GitHub edge over real HTTP, against the local fake of GitHub's REST API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.core.environment import GitHubContext
from reconciler.core.errors import GitHubCallFailed
from reconciler.edges.github.rest import GitHub

from ..fakegithub import BODY_LIMIT, FakeGitHub, running


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with running() as server:
        yield server


def edge(fake: FakeGitHub, token: str | None = None) -> GitHub:
    return GitHub(fake.url, token or fake.token, fake.repository)


def test_comments_are_listed_across_pages_and_created_and_edited(fake: FakeGitHub) -> None:
    number = fake.open_pull()
    for i in range(130):
        fake.add_comment(number, f"comment {i}", "octocat")
    github = edge(fake)
    listed = list(github.comments(number))
    assert [c.body for c in listed] == [f"comment {i}" for i in range(130)]
    assert {c.author for c in listed} == {"octocat"}
    assert [c.query.get("page", "1") for c in fake.calls if c.method == "GET"] == ["1", "2"]
    created = github.create_comment(number, "ours")
    github.update_comment(number, created, "ours, edited")
    assert fake.comments[created].body == "ours, edited" and fake.comments[created].author == "github-actions[bot]"
    assert [(c.method, c.path) for c in fake.writes()] == [
        ("POST", f"/repos/acme/cleanrooms/issues/{number}/comments"),
        ("PATCH", f"/repos/acme/cleanrooms/issues/comments/{created}"),
    ]


def test_issues_are_opened_found_by_label_updated_and_closed(fake: FakeGitHub) -> None:
    github = edge(fake)
    fake.open_pull()  # a pull request carries labels too, but is not an issue
    opened = github.create_issue("drift", "body", "drift")
    github.create_issue("other", "body", "bug")
    assert [i.number for i in github.open_issues("drift")] == [opened.number]
    github.update_issue(opened.number, body="new body")
    github.update_issue(opened.number, close=True)
    issue = fake.issues[opened.number]
    assert (issue.body, issue.state, issue.state_reason, issue.labels) == ("new body", "closed", "completed", ["drift"])
    assert github.open_issues("drift") == []


def test_a_bad_token_is_one_clear_error(fake: FakeGitHub) -> None:
    with pytest.raises(GitHubCallFailed, match=r"GitHub: cannot list open issues labelled drift: HTTP 401: Bad"):
        edge(fake, token="wrong").open_issues("drift")


def test_a_body_over_the_limit_is_refused_by_github_and_reported(fake: FakeGitHub) -> None:
    number = fake.open_pull()
    with pytest.raises(GitHubCallFailed, match=r"cannot comment on #1: HTTP 422: Validation Failed"):
        edge(fake).create_comment(number, "x" * (BODY_LIMIT + 1))
    assert fake.comments_on(number) == []


def test_a_failed_create_is_not_sent_again_but_a_failed_read_is(fake: FakeGitHub) -> None:
    number = fake.open_pull()
    fake.fail("POST", r"/comments$", 502)
    with pytest.raises(GitHubCallFailed, match="HTTP 502"):
        edge(fake).create_comment(number, "once")
    assert [c.method for c in fake.calls] == ["POST"]
    fake.fail("GET", r"/comments$", 502)
    assert list(edge(fake).comments(number)) == []
    assert [c.status for c in fake.calls[1:]] == [502, 200]


def test_an_unreachable_api_is_one_clear_error() -> None:
    with running() as fake:
        url = fake.url
    github = GitHub(url, "t", "acme/cleanrooms")
    with pytest.raises(GitHubCallFailed, match=r"GitHub: cannot list the comments of #3: .*Connection refused"):
        list(github.comments(3))


def test_the_merged_pull_request_of_a_commit_is_found_and_an_open_one_is_not(fake: FakeGitHub) -> None:
    head, merge, other = "a" * 40, "b" * 40, "c" * 40
    merged = fake.open_pull(head)
    fake.merge(merged, merge)
    fake.open_pull(other)  # open: a push of its commit to main is not a merge
    github = edge(fake)
    found = github.merged_pull(merge)
    assert found is not None and (found.number, found.head_sha) == (merged, head)
    assert github.merged_pull(other) is None
    assert [c.method for c in fake.calls] == ["GET", "GET"]  # one list call each, no call per pull request


def test_a_call_names_the_run_and_job_that_made_it_so_a_token_per_job_can_be_judged(fake: FakeGitHub) -> None:
    context = GitHubContext(actions=True, repository="acme/cleanrooms", run_id="77", run_attempt="2", job="report")
    agent = context.user_agent("0.1.0")
    assert agent == "cleanrooms-reconciler/0.1.0 (github-actions; acme/cleanrooms run 77/2; job report)"
    assert GitHubContext().user_agent("0.1.0") == "cleanrooms-reconciler/0.1.0"  # outside a workflow run
    assert "\n" not in GitHubContext(actions=True, repository="a/b", run_id="1", job="x\ny").user_agent("1")

    number = fake.open_pull()
    fake.jobs = {"report": {"contents": "read", "pull-requests": "read"}, "comment": {"pull-requests": "write"}}
    with pytest.raises(GitHubCallFailed, match=r"HTTP 403: Resource not accessible by integration"):
        GitHub(fake.url, fake.token, fake.repository, agent).create_comment(number, "refused")
    commenter = GitHubContext(actions=True, repository="acme/cleanrooms", run_id="77", job="comment")
    GitHub(fake.url, fake.token, fake.repository, commenter.user_agent("0.1.0")).create_comment(number, "made")
    assert [(c.job, c.status) for c in fake.writes()] == [("report", 403), ("comment", 201)]
    assert [c.body for c in fake.comments_on(number)] == ["made"]
