"""The commands under `reconciler` (the `github` group is github.py's): parse options, call one use case
(usecases/), render its result, return a status. Errors go up to exits.run, which maps them."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..core.api import Where
from ..core.environment import Environment
from ..core.errors import ApplyRefused, ExitStatus, ReconcilerError, UsageError
from ..core.escape import printable
from .options import (
    DEFAULT_PATH,
    FORMATS,
    markdown_limit_option,
    membership_option,
    parse_hash,
    path_argument,
    retry_options,
    selection,
    target_option,
)
from .shell import Shell

# The modules behind the commands (pydantic, ruamel.yaml, the planner) are imported inside each command,
# so `--help`, `--version` and a usage error never pay for them: start-up is part of every CI step.


@click.command()
@path_argument
@click.pass_obj
def validate(shell: Shell, path: Path) -> ExitStatus:
    """Check every desired-state file; report all problems. Makes no AWS call."""
    from ..edges.github import actions
    from ..usecases import validate

    result = validate.validate(path, shell.runtime.guardrails())
    for problem in result.problems:
        shell.out(printable(str(problem)))
    for line in actions.error_annotations(shell.env.github, result.problems):
        shell.command(line)
    config = shell.runtime.settings.config
    if result.problems and not result.files and all(p.path == str(config) for p in result.problems):
        shell.err(f"{len(result.problems)} problem(s) in {config}; no membership file was checked")
    elif result.problems:
        shell.err(f"{len(result.problems)} problem(s) in {path}")
    else:
        shell.out(f"{len(result.files)} membership file(s) valid in {path}")
    return validate.validate_status(result)


@click.command()
@click.option("--config", "of_config", is_flag=True, help="The schema of reconciler.yaml instead.")
@click.pass_obj
def schema(shell: Shell, of_config: bool) -> None:
    """Print the JSON Schema of a desired-state file (or of reconciler.yaml)."""
    if of_config:
        from ..core.config import config_json_schema

        shell.out(json.dumps(config_json_schema(), indent=2))
        return
    from ..core.models import desired_json_schema

    shell.out(json.dumps(desired_json_schema(), indent=2))


@click.command()
@path_argument
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Save the plan (JSON) for apply --plan.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none.")
@click.option(
    "--expect-changes-hash",
    metavar="HASH",
    callback=parse_hash,
    help="Exit 1 unless the plan's changesHash is HASH (the one reviewed).",
)
@markdown_limit_option
@membership_option()
@target_option
@retry_options
@click.pass_obj
def plan(
    shell: Shell,
    path: Path,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    expect_changes_hash: str | None,
    markdown_limit: int | None,
    memberships: tuple[str, ...],
    target: Where | None,
) -> ExitStatus:
    """Read the live memberships and show what apply would change."""
    from ..usecases import plan

    result = plan.plan(shell.runtime, path, selection(memberships, target), out, detailed_exitcode, expect_changes_hash)
    shell.emit(result.plan, fmt, limit=markdown_limit)
    shell.errors(result.messages)
    return result.status


@click.command()
@path_argument
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Apply exactly this saved plan (from plan --out) instead of planning again.",
)
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation (required without a terminal).")
@click.option("--max-changes", type=click.IntRange(0), help="Refuse when more memberships than this would change.")
@click.option(
    "--audit-log", type=click.Path(path_type=Path, dir_okay=False), help="Append a JSON line per write to this file."
)
@click.option(
    "--expect-changes-hash",
    metavar="HASH",
    callback=parse_hash,
    help="Write nothing unless the plan's changesHash is HASH (the one reviewed).",
)
@click.option(
    "--reviewed-plan",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="With --expect-changes-hash: the reviewed plan (JSON), to say what differs.",
)
@click.option(
    "--receipt", type=click.Path(path_type=Path, dir_okay=False), help="Write a receipt of this run (JSON) here."
)
@click.option("--pull-request", type=click.IntRange(1), metavar="NUMBER", help="The pull request, for the receipt.")
@click.option("--force", is_flag=True, help="Apply past reconciler.yaml's maxChangesPercent.")
@membership_option()
@target_option
@retry_options
@click.pass_obj
def apply(
    shell: Shell,
    path: Path,
    plan_file: Path | None,
    auto_approve: bool,
    max_changes: int | None,
    audit_log: Path | None,
    expect_changes_hash: str | None,
    reviewed_plan: Path | None,
    receipt: Path | None,
    pull_request: int | None,
    force: bool,
    memberships: tuple[str, ...],
    target: Where | None,
) -> ExitStatus:
    """Send only the changed fields, with safe retries; exit 0 only when every change is applied."""
    from ..core import render_outcomes
    from ..core.receipt import Context
    from ..edges.github import actions
    from ..usecases import apply

    if reviewed_plan is not None and expect_changes_hash is None:
        raise UsageError("--reviewed-plan needs --expect-changes-hash")
    github = shell.env.github
    context = Context(github.sha, pull_request, github.run_url, target.label if target else None)
    options = apply.ApplyOptions(
        plan_file, max_changes, audit_log, expect_changes_hash, reviewed_plan, receipt, context, force
    )
    result = apply.apply(
        shell.runtime,
        path,
        selection(memberships, target),
        options,
        show=lambda planned: shell.emit(planned, "text"),
        confirm=lambda count: confirm(shell.env, auto_approve, count),
    )
    if not result.outcomes:
        shell.out("Nothing to apply.")
        shell.errors(result.messages)
        return result.status
    shell.out(render_outcomes.outcomes_text(result.outcomes, shell.style), nl=False)
    shell.warn(actions.append_summary(shell.env.github, render_outcomes.outcomes_markdown(result.outcomes)))
    shell.errors(result.messages)
    if result.status is not ExitStatus.OK:
        shell.err("Not everything was applied. Run apply again: it reads live state and sends only what still differs.")
    return result.status


def confirm(env: Environment, auto_approve: bool, count: int) -> None:
    if auto_approve:
        return
    if not env.stdin_isatty:
        raise ApplyRefused("refusing to apply without a terminal to confirm on; pass --auto-approve")
    question = f"Apply changes to {count} membership(s)? Only 'yes' will be accepted"
    if click.prompt(question, default="", show_default=False) != "yes":
        raise ApplyRefused("apply cancelled; nothing was changed")


@click.command()
@path_argument
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option(
    "--report-unmanaged",
    is_flag=True,
    help="Also list ACTIVE memberships in the covered accounts and regions that no file manages.",
)
@click.option(
    "--attribution-days",
    type=click.IntRange(1, 90),
    default=7,
    show_default=True,
    help="Say who wrote each drifted membership in this many days (CloudTrail LookupEvents, 90 days kept).",
)
@click.option("--no-attribution", is_flag=True, help="Do not look up who wrote drifted memberships.")
@markdown_limit_option
@membership_option()
@target_option
@retry_options
@click.pass_obj
def drift(
    shell: Shell,
    path: Path,
    fmt: str,
    report_unmanaged: bool,
    attribution_days: int,
    no_attribution: bool,
    markdown_limit: int | None,
    memberships: tuple[str, ...],
    target: Where | None,
) -> ExitStatus:
    """Read-only comparison for the nightly check: exit 0 no drift, 2 drift, 1 error."""
    from ..core import render
    from ..usecases import drift

    days = None if no_attribution else attribution_days
    result = drift.drift(shell.runtime, path, selection(memberships, target), report_unmanaged, days)
    shell.emit(result.report, fmt, render.DRIFT, markdown_limit)
    shell.errors(result.messages)
    return result.status


@click.command()
@path_argument
@membership_option()
@target_option
@retry_options
@click.pass_obj
def adopt(shell: Shell, path: Path, memberships: tuple[str, ...], target: Where | None) -> ExitStatus:
    """Rewrite drifted files to the live values, so a plan shows no change (the other way out of drift)."""
    from ..usecases import adopt

    result = adopt.adopt(shell.runtime, path, selection(memberships, target))
    for line in result.adopted:
        shell.out(printable(line))
    shell.errors([*result.refused, *result.errors])
    if not (result.adopted or result.refused or result.errors):
        shell.out("Nothing to adopt: live settings match the desired state.")
    shell.out(f"Adopt: {len(result.adopted)} file(s) rewritten, {len(result.refused)} value(s) not adopted.")
    return result.status


@click.command()
@path_argument
@click.option("--format", "fmt", type=click.Choice(["text", "github-matrix"]), default="text", show_default=True)
@membership_option(
    "Only the pairs of the files naming this membership (repeatable; an id or its ARN); one no file names is "
    "said on stderr and left out (a change event may be about a membership git does not manage)."
)
@click.pass_obj
def targets(shell: Shell, path: Path, fmt: str, memberships: tuple[str, ...]) -> None:
    """List the account/region pairs the desired state covers (a GitHub Actions matrix with github-matrix)."""
    from ..usecases import targets

    found, unnamed = targets.named_targets(shell.runtime, path, memberships)
    for membership in unnamed:
        shell.err(f"membership {membership} is in no file under {path}: not checked")
    if fmt == "github-matrix":
        shell.out(json.dumps(targets.github_matrix(found), separators=(",", ":")))
    else:
        for where in found:
            shell.out(where.label)


@click.command("import")
@click.option("--all", "import_all", is_flag=True, help="Every ACTIVE membership in the account and region.")
@membership_option()
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_PATH,
    show_default=True,
    help="Where the files go.",
)
@click.option("--overwrite", is_flag=True, help="Update existing files in place (comments and key order kept).")
@click.option(
    "--by-collaboration",
    is_flag=True,
    help="Name each membership by its collaboration (collaborationIdentifier) in new files.",
)
@retry_options
@click.pass_obj
def import_(
    shell: Shell,
    import_all: bool,
    memberships: tuple[str, ...],
    out_dir: Path,
    overwrite: bool,
    by_collaboration: bool,
) -> ExitStatus:
    """Write desired-state files from live memberships, so a plan right after shows no changes."""
    from ..usecases import imports

    result = imports.import_memberships(shell.runtime, memberships, import_all, out_dir, overwrite, by_collaboration)
    for line in result.written:
        shell.out(printable(line))
    shell.errors(result.failures)
    shell.out(f"Import: {len(result.written)} of {result.total} membership(s) into {result.out_dir}")
    return result.status


@click.command("render")
@click.argument("report", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--format", "fmt", type=FORMATS, default="markdown", show_default=True)
@click.option("--drift", "as_drift", is_flag=True, help="Word it as a drift report.")
@markdown_limit_option
@click.pass_obj
def render_(shell: Shell, report: Path, fmt: str, as_drift: bool, markdown_limit: int | None) -> None:
    """Show a report from `plan`/`drift --format json` (or a saved plan) again, in any format. No AWS call."""
    from ..core import render
    from ..usecases import publish

    words = render.DRIFT if as_drift else render.PLAN
    shell.emit(publish.read_report(report), fmt, words, markdown_limit, summary=False)


@click.command()
@click.pass_obj
def demo(shell: Shell) -> ExitStatus:
    """The whole loop against an embedded local Clean Rooms endpoint: no AWS account needed."""
    import tempfile

    try:
        from ..sandbox import demo as story
    except ImportError as exc:
        raise ReconcilerError(str(exc)) from exc
    with tempfile.TemporaryDirectory(prefix="reconciler-demo-") as tmp:
        ok = story.run(shell.out, lambda title: shell.out(shell.style(f"\n== {title}", "bold")), Path(tmp))
    if not ok:
        raise ReconcilerError("the demo did not go as expected")
    shell.out("\nDemo complete: planned, applied, converged, and caught drift, all against 127.0.0.1.")
    return ExitStatus.OK
