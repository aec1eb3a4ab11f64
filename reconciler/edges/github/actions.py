"""What the reconciler tells a GitHub Actions run: annotations, the job summary and links to sources.

Pure apart from appending to the summary file the runner names; no network (the GitHub API is not here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ...core.documents import Problem
from ...core.environment import GitHubContext
from ...core.escape import command_data, command_property


def error_annotations(github: GitHubContext, problems: Sequence[Problem]) -> list[str]:
    """`::error file=…,line=…,col=…::message` lines, shown inline on the pull request's diff."""
    if not github.actions:
        return []
    lines = []
    for p in problems:
        message = f"{p.field}: {p.message}" if p.field else p.message
        lines.append(f"::error file={command_property(p.path)},line={p.line},col={p.col}::{command_data(message)}")
    return lines


def append_summary(github: GitHubContext, markdown: str) -> str | None:
    """Add Markdown to the job's summary page, when the runner asks for one; a warning when it cannot be
    written (the summary is a courtesy: the command's own output and status stand without it)."""
    if not github.step_summary:
        return None
    try:
        with open(github.step_summary, "a", encoding="utf-8") as stream:
            stream.write(markdown + "\n")
    except OSError as error:
        return f"warning: cannot append to the job summary {github.step_summary}: {error.strerror or error}"
    return None


def source_link(github: GitHubContext) -> Callable[[str], str] | None:
    """A link to a desired-state file at the commit being run, for Markdown plans."""
    if not (github.server_url and github.repository and github.sha):
        return None
    base = f"{github.server_url}/{github.repository}/blob/{github.sha}"
    return lambda path: f"{base}/{path}"


def workflow_link(github: GitHubContext, workflow: str) -> str | None:
    """The page of one of this repository's workflows, where it is run by hand."""
    if not (github.server_url and github.repository):
        return None
    return f"{github.server_url}/{github.repository}/actions/workflows/{workflow}"
