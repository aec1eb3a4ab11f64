"""GitHub Actions outputs and the injected environment they read."""

from __future__ import annotations

import io
from pathlib import Path

from reconciler.core.documents import Problem
from reconciler.core.environment import Environment, GitHubContext
from reconciler.edges.github import actions

ON_ACTIONS = GitHubContext(actions=True)


def test_annotations_only_on_actions_and_escaped_as_the_runner_expects() -> None:
    problem = Problem("d/a,b.yaml", 3, 5, "bucket", "100% wrong:\nsee docs")
    assert actions.error_annotations(GitHubContext(), [problem]) == []
    assert actions.error_annotations(ON_ACTIONS, [problem]) == [
        "::error file=d/a%2Cb.yaml,line=3,col=5::bucket: 100%25 wrong:%0Asee docs"
    ]


def test_source_links_need_server_repository_and_commit() -> None:
    assert actions.source_link(GitHubContext(server_url="https://github.test", repository="o/r")) is None
    link = actions.source_link(GitHubContext(server_url="https://github.test", repository="o/r", sha="abc"))
    assert link is not None and link("d/a.yaml") == "https://github.test/o/r/blob/abc/d/a.yaml"


def test_the_summary_is_appended(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("before\n")
    actions.append_summary(GitHubContext(step_summary=str(summary)), "### plan")
    actions.append_summary(GitHubContext(), "### not written anywhere")
    assert summary.read_text() == "before\n### plan\n"


def test_environment_reads_colour_and_github_from_its_variables() -> None:
    variables = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": "/s", "GITHUB_SHA": "abc"}
    env = Environment(io.StringIO(), io.StringIO(), stdout_isatty=True, variables=variables)
    assert env.colour
    assert env.github == GitHubContext(actions=True, step_summary="/s", sha="abc")
    assert not Environment(io.StringIO(), io.StringIO(), stdout_isatty=True, variables={"NO_COLOR": ""}).colour
    assert not Environment(io.StringIO(), io.StringIO(), stdout_isatty=False).colour
