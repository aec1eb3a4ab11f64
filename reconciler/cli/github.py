"""`reconciler github ...`: publish reports on GitHub (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL, as in a
workflow run)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from ..core.errors import ExitStatus, GitHubCallFailed, UsageError
from .options import membership_option, parse_commit, path_argument
from .shell import Shell

FC = TypeVar("FC", bound=Callable[..., object])

# The modules behind the commands (pydantic, ruamel.yaml, the planner) are imported inside each command,
# so `--help`, `--version` and a usage error never pay for them: start-up is part of every CI step.


@click.group("github")
def github_group() -> None:
    """Publish reports on GitHub (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL, as in a workflow run)."""


reports_option = click.option(
    "--reports",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory of per-target reports (plan/drift --target T --format json), e.g. downloaded artifacts.",
)


author_option = click.option(
    "--author",
    default="github-actions[bot]",
    show_default=True,
    help="Only a comment or issue by this login is taken as ours: '@token' for the token's own user (a "
    "personal access token; a GitHub App's token has none: give APP-SLUG[bot]), '' for any author.",
)


def _author(shell: Shell, author: str) -> str | None:
    """The login whose comments and issues are ours (None: anyone's)."""
    if author != "@token":
        return author or None
    try:
        return shell.github().login()
    except GitHubCallFailed as error:
        raise UsageError(
            f"--author @token: {error.message}; a GitHub App's installation token (or GITHUB_TOKEN) has no "
            "user: give the author as APP-SLUG[bot] (the action's `author` input)"
        ) from error


def _workflow_file(value: str) -> str:
    # It goes into a link in the issue: a file name and nothing else.
    if not re.fullmatch(r"[A-Za-z0-9_.-]+\.ya?ml", value):
        raise click.BadParameter(f"{value!r} is not a workflow file name (NAME.yml)")
    return value


def head_sha_option(help_text: str) -> Callable[[FC], FC]:
    return click.option(
        "--head-sha", metavar="SHA", callback=lambda _ctx, _param, value: parse_commit(value), help=help_text
    )


pull_request_option = click.option("--pull-request", type=click.IntRange(1), required=True, metavar="NUMBER")


@github_group.command("comment")
@path_argument
@reports_option
@pull_request_option
@author_option
@head_sha_option("The pull request's head commit the plans were made for (the apply workflow checks it).")
@click.pass_obj
def github_comment(
    shell: Shell, path: Path, reports: Path, pull_request: int, author: str, head_sha: str | None
) -> None:
    """Post the plans as ONE comment on the pull request, or edit the one posted before."""
    from ..edges.github import actions
    from ..usecases import publish, targets

    github, context = shell.github(), shell.env.github
    sections = publish.gather(reports, targets.targets(shell.runtime, path))
    body = publish.plan_comment(sections, context.run_url, actions.source_link(context), head_sha)
    shell.out(publish.sticky_comment(github, pull_request, body, _author(shell, author)).message)


@github_group.command("outdated")
@pull_request_option
@author_option
@head_sha_option("The pull request's head commit that could not be planned.")
@click.option("--reason", default="the desired state at the latest commit does not validate", show_default=True)
@click.pass_obj
def github_outdated(shell: Shell, pull_request: int, author: str, head_sha: str | None, reason: str) -> None:
    """Mark the plan comment outdated (the latest push could not be planned): it stays readable, but its
    hidden hashes are dropped, so nothing can be applied from it."""
    from ..usecases import publish

    context = shell.env.github
    published = publish.mark_outdated(
        shell.github(), pull_request, _author(shell, author), head_sha or context.sha, context.run_url, reason
    )
    shell.out(published.message)


@github_group.command("drift-issue")
@path_argument
@reports_option
@click.option("--label", default="drift", show_default=True, help="The label of the one drift issue.")
@author_option
@membership_option(
    "The run checked only this membership (repeatable, an id or its ARN; a change event's): its targets alone "
    "are expected, and the issue is commented on or opened, never rewritten or closed."
)
@click.option("--adopt-pull-request", type=click.IntRange(1), metavar="NUMBER", help="The adopt pull request.")
@click.option(
    "--apply-workflow",
    default="apply.yml",
    show_default=True,
    callback=lambda _ctx, _param, value: _workflow_file(value),
    help="The apply workflow's file, for the issue's link to revert the drift.",
)
@click.pass_obj
def github_drift_issue(
    shell: Shell,
    path: Path,
    reports: Path,
    label: str,
    author: str,
    memberships: tuple[str, ...],
    adopt_pull_request: int | None,
    apply_workflow: str,
) -> ExitStatus:
    """Open, update or close the ONE drift issue from the nightly reports; exit 1 if a target was not checked."""
    from ..edges.github import actions
    from ..usecases import publish, targets

    github, context = shell.github(), shell.env.github
    sections = publish.gather(reports, targets.targets(shell.runtime, path, memberships))
    link = actions.source_link(context)
    ways = publish.WaysOut(actions.workflow_link(context, apply_workflow), adopt_pull_request)
    result = publish.drift_issue(
        github, sections, context.run_url, link, label, _author(shell, author), context.sha, ways, memberships
    )
    (shell.out if result.status is ExitStatus.OK else shell.err)(result.message)
    return result.status


@github_group.command("adopt-pr")
@path_argument
@reports_option
@click.option(
    "--branch",
    default="cleanrooms/adopt-live-settings",
    show_default=True,
    help="The pull request's own branch: moved by every run, whatever it holds.",
)
@click.option("--base", metavar="BRANCH", help="The branch to merge into (default: this run's, GITHUB_REF_NAME).")
@click.option(
    "--commit",
    metavar="SHA",
    callback=lambda _ctx, _param, value: parse_commit(value),
    help="The commit the reports were made at, which the adoption goes on (default: this run's, GITHUB_SHA).",
)
@author_option
@click.pass_obj
def github_adopt_pr(
    shell: Shell, path: Path, reports: Path, branch: str, base: str | None, commit: str | None, author: str
) -> None:
    """Keep ONE pull request that makes the desired state follow the live settings the drift reports found:
    opened or moved, closed once nothing is left to adopt; untouched when a target was not checked. Prints
    {"pullRequest": NUMBER or null}; says what it did on stderr."""
    from ..usecases import adopt, adopt_pull, publish, targets

    context = shell.env.github
    at = commit or context.sha
    if not at:
        raise UsageError("give --commit SHA: the commit the drift reports were made at (GITHUB_SHA in a workflow)")
    sections = publish.gather(reports, targets.targets(shell.runtime, path))
    adopted = adopt.adopt_reports(shell.runtime, path, [s.plan for s in sections if s.plan is not None])
    result = adopt_pull.adopt_pull(
        shell.github(),
        sections,
        adopted,
        branch,
        base or context.ref_name or "main",
        at,
        context.run_url,
        _author(shell, author),
    )
    shell.err(result.message)
    shell.out(json.dumps({"pullRequest": result.number}))


@github_group.command("reviewed")
@click.option("--commit", metavar="SHA", help="A commit on main: its merged pull request's plan comment is read.")
@click.option("--approve", metavar="PAIRS", help="ACCOUNT/REGION=HASH pairs approved by hand (a manual run).")
@click.option("--pull-request", type=click.IntRange(1), metavar="NUMBER", help="With --approve: where to report.")
@click.option(
    "--since",
    metavar="SHA",
    callback=lambda _ctx, _param, value: parse_commit(value),
    help="With --commit: the branch's head before the push; every pull request the push merged counts (a "
    "merge queue's batch).",
)
@click.option(
    "--base",
    metavar="BRANCH",
    help="With --commit: only a pull request merged into BRANCH counts (default: the branch of this run, "
    "GITHUB_REF_NAME).",
)
@author_option
@click.pass_obj
def github_reviewed(
    shell: Shell,
    commit: str | None,
    approve: str | None,
    pull_request: int | None,
    since: str | None,
    base: str | None,
    author: str,
) -> None:
    """Print (JSON) the changes hash reviewed for each target: from the merged pull request's plan comment,
    made for its final head commit, or from --approve."""
    from ..usecases import review

    if (commit is None) == (approve is None):
        raise UsageError("give either --commit SHA or --approve PAIRS")
    if approve is not None:
        reviewed = review.Reviewed(pull_request, review.parse_approvals(approve), by_hand=True)
    else:
        assert commit is not None
        branch = base or shell.env.github.ref_name
        reviewed = review.reviewed_for_push(shell.github(), commit, _author(shell, author), branch, since)
    shell.out(json.dumps(reviewed.to_json(), separators=(",", ":")))


@github_group.command("apply-targets")
@path_argument
@click.option("--plans", type=click.Path(path_type=Path, file_okay=False), required=True, help="The plan reports.")
@click.option("--reviewed", "reviewed_json", required=True, metavar="JSON", help="What `github reviewed` printed.")
@click.pass_obj
def github_apply_targets(shell: Shell, path: Path, plans: Path, reviewed_json: str) -> None:
    """Print (a workflow matrix) the targets to apply: a plan with no errors, the reviewed changes hash and
    something to change. Each other target is said on stderr, with why; an empty matrix is not an error."""
    from ..usecases import publish, review, targets

    sections = publish.gather(plans, targets.targets(shell.runtime, path))
    ready, others = review.ready_to_apply(sections, review.parse_reviewed(reviewed_json))
    for other in others:
        shell.err(f"not applied: {other}")
    shell.out(json.dumps(targets.github_matrix(ready), separators=(",", ":")))


@github_group.command("apply-report")
@path_argument
@click.option("--plans", type=click.Path(path_type=Path, file_okay=False), required=True, help="The plan reports.")
@click.option(
    "--receipts",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The apply receipts, and the plans a failed apply left (remaining-*.json).",
)
@click.option("--reviewed", "reviewed_json", required=True, metavar="JSON", help="What `github reviewed` printed.")
@click.option("--workflow", default="apply", show_default=True, help="The apply workflow's name, for the how-to.")
@click.pass_obj
def github_apply_report(
    shell: Shell, path: Path, plans: Path, receipts: Path, reviewed_json: str, workflow: str
) -> ExitStatus:
    """Comment the apply run's result on its pull request; when the plan was not the reviewed one, the new
    plan and how to approve it. Exit 1 unless every target was applied."""
    from ..edges.github import actions
    from ..usecases import publish, review, targets

    context = shell.env.github
    sections = publish.gather(plans, targets.targets(shell.runtime, path))
    run = review.ApplyRun(
        sections,
        review.read_receipts(receipts),
        review.parse_reviewed(reviewed_json),
        context.run_url,
        actions.source_link(context),
        workflow,
        review.read_remaining(receipts),
        context.sha,
        context.ref_name or "main",
    )
    result = review.report_apply(shell.github, run)
    shell.out(result.message)
    return result.status
