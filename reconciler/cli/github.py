"""`reconciler github ...`: publish reports on GitHub (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL, as in a
workflow run)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..core.errors import ExitStatus, UsageError
from .options import parse_commit, path_argument
from .shell import Shell

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
    help="Only a comment or issue by this login is taken as ours ('' for any author).",
)


@github_group.command("comment")
@path_argument
@reports_option
@click.option("--pull-request", type=click.IntRange(1), required=True, metavar="NUMBER")
@author_option
@click.option(
    "--head-sha",
    metavar="SHA",
    callback=lambda _ctx, _param, value: parse_commit(value),
    help="The pull request's head commit the plans were made for (the apply workflow checks it).",
)
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
    shell.out(publish.sticky_comment(github, pull_request, body, author or None).message)


@github_group.command("drift-issue")
@path_argument
@reports_option
@click.option("--label", default="drift", show_default=True, help="The label of the one drift issue.")
@author_option
@click.pass_obj
def github_drift_issue(shell: Shell, path: Path, reports: Path, label: str, author: str) -> ExitStatus:
    """Open, update or close the ONE drift issue from the nightly reports; exit 1 if a target was not checked."""
    from ..edges.github import actions
    from ..usecases import publish, targets

    github, context = shell.github(), shell.env.github
    sections = publish.gather(reports, targets.targets(shell.runtime, path))
    result = publish.drift_issue(github, sections, context.run_url, actions.source_link(context), label, author or None)
    (shell.out if result.status is ExitStatus.OK else shell.err)(result.message)
    return result.status


@github_group.command("reviewed")
@click.option("--commit", metavar="SHA", help="A commit on main: its merged pull request's plan comment is read.")
@click.option("--approve", metavar="PAIRS", help="ACCOUNT/REGION=HASH pairs approved by hand (a manual run).")
@click.option("--pull-request", type=click.IntRange(1), metavar="NUMBER", help="With --approve: where to report.")
@author_option
@click.pass_obj
def github_reviewed(
    shell: Shell, commit: str | None, approve: str | None, pull_request: int | None, author: str
) -> None:
    """Print (JSON) the changes hash reviewed for each target: from the merged pull request's plan comment,
    made for its final head commit, or from --approve."""
    from ..usecases import publish

    if (commit is None) == (approve is None):
        raise UsageError("give either --commit SHA or --approve PAIRS")
    if approve is not None:
        reviewed = publish.Reviewed(pull_request, publish.parse_approvals(approve))
    else:
        assert commit is not None
        reviewed = publish.reviewed_for_commit(shell.github(), commit, author or None)
    shell.out(json.dumps(reviewed.to_json(), separators=(",", ":")))


@github_group.command("apply-report")
@path_argument
@click.option("--plans", type=click.Path(path_type=Path, file_okay=False), required=True, help="The plan reports.")
@click.option("--receipts", type=click.Path(path_type=Path, file_okay=False), required=True, help="The apply receipts.")
@click.option("--reviewed", "reviewed_json", required=True, metavar="JSON", help="What `github reviewed` printed.")
@click.option("--workflow", default="apply", show_default=True, help="The apply workflow's name, for the how-to.")
@click.pass_obj
def github_apply_report(
    shell: Shell, path: Path, plans: Path, receipts: Path, reviewed_json: str, workflow: str
) -> ExitStatus:
    """Comment the apply run's result on its pull request; when the plan was not the reviewed one, the new
    plan and how to approve it. Exit 1 unless every target was applied."""
    from ..edges.github import actions
    from ..usecases import publish, targets

    context = shell.env.github
    sections = publish.gather(plans, targets.targets(shell.runtime, path))
    result = publish.report_apply(
        shell.github,
        sections,
        publish.read_receipts(receipts),
        publish.parse_reviewed(reviewed_json),
        context.run_url,
        actions.source_link(context),
        workflow,
    )
    shell.out(result.message)
    return result.status
