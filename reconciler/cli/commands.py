"""The command line: parse options, call one use case (usecases/), render its result, return a status.

`run()` is the one place that turns results and errors into exit statuses (`main()` only exits with it):
usage errors exit 1, never 2, which means changes or drift; Ctrl-C exits 130; no error prints a traceback.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import re
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import __version__
from ..core.api import DEFAULT_ACCOUNT, Where
from ..core.environment import Environment
from ..core.errors import ApplyRefused, ExitStatus, InvalidDesiredState, ReconcilerError, Terminated, UsageError
from ..core.escape import printable, terminal_line
from ..core.retry import DEFAULT_BASE_DELAY, DEFAULT_DEADLINE, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_DELAY
from ..usecases.runtime import DEFAULT_PARALLELISM, Advance, Runtime, Settings

if TYPE_CHECKING:
    from ..core import render
    from ..core.plan import Plan, Selection
    from ..edges.github.rest import GitHub

# The modules behind the commands (pydantic, ruamel.yaml, the planner) are imported inside each command,
# so `--help`, `--version` and a usage error never pay for them: start-up is part of every CI step.

DEFAULT_PATH = Path("desired-state")
FORMATS = click.Choice(["text", "markdown", "json"])


@dataclass
class Shell:
    """One run of the CLI: the environment it prints to and the runtime its commands share.

    Every line goes out through `escape.terminal_line`, so no text from outside (a file name, a YAML key, a
    collaboration name, an AWS message) can move the cursor, write the clipboard or start a workflow
    command. Colour is the one exception, and only ours: `style` marks text with a secret this run chose, and
    only those marks become colour codes once the line is escaped."""

    env: Environment
    runtime: Runtime
    _secret: str = field(default_factory=lambda: secrets.token_hex(8))

    def out(self, text: str = "", nl: bool = True) -> None:
        click.echo(self._shown(text), file=self.env.stdout, nl=nl, color=self.env.colour)

    def err(self, text: str) -> None:
        click.echo(self._shown(text), file=self.env.stderr, color=False)

    def command(self, line: str) -> None:
        """A workflow command of ours (`::error file=…::…`), its values escaped by actions.py."""
        click.echo(line, file=self.env.stdout)

    def style(self, text: str, colour: str) -> str:
        if not self.env.colour:
            return text
        return f"\ue000{self._secret}:{colour}\ue001{text}\ue000{self._secret}:\ue001"

    def _shown(self, text: str) -> str:
        return re.sub(
            f"\ue000{self._secret}:([a-z]*)\ue001",
            lambda mark: _sgr(mark.group(1)),
            terminal_line(text),
        )

    def emit(self, plan: Plan, fmt: str, words: render.Words | None = None, limit: int | None = None) -> None:
        from ..core import render
        from ..edges.github import actions

        github = self.env.github
        link = actions.source_link(github)
        words = words or render.PLAN
        limit = render.MARKDOWN_LIMIT if limit is None else limit or None
        self.out(render.render(plan, fmt, self.style, link, words, limit, github.run_url), nl=False)
        self.warn(actions.append_summary(github, render.markdown(plan, link, words, more=github.run_url)))

    def github(self) -> GitHub:
        """The GitHub edge for the repository this run is in; a usage error outside a workflow's variables."""
        from ..edges.github.rest import GitHub

        context = self.env.github
        if not context.token or not context.repository:
            raise UsageError("GITHUB_TOKEN and GITHUB_REPOSITORY must be set (a workflow run sets them)")
        return GitHub(context.api_url or "https://api.github.com", context.token, context.repository)

    def warn(self, warning: str | None) -> None:
        if warning is not None:
            self.err(printable(warning))

    def errors(self, messages: Sequence[str]) -> None:
        for message in messages:
            self.err(printable(f"error: {message}"))

    @contextmanager
    def progress(self, total: int, label: str) -> Iterator[Advance]:
        """A progress bar on stderr when it is a terminal; otherwise (a CI log) a line every 10 s while the
        work lasts, so a long wait (backoff, a rate limit, a slow endpoint) shows life, and a quick run
        prints nothing."""
        if total == 0:
            yield lambda: None
            return
        if not self.env.stderr_isatty:
            with self._heartbeat(total, label) as advance:
                yield advance
            return
        from rich.console import Console
        from rich.progress import Progress

        with Progress(transient=True, console=Console(file=self.env.stderr)) as bar:
            task = bar.add_task(label, total=total)
            yield lambda: bar.advance(task)

    @contextmanager
    def _heartbeat(self, total: int, label: str) -> Iterator[Advance]:
        done = itertools.count(1)
        finished = [0]
        stop = threading.Event()

        def advance() -> None:
            finished[0] = next(done)  # count() is atomic under the GIL; workers call this concurrently

        def beat() -> None:
            while not stop.wait(HEARTBEAT_SECONDS):
                self.err(f"{label}: {finished[0]} of {total} done; still working")

        thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
        thread.start()
        try:
            yield advance
        finally:
            stop.set()
            thread.join()


HEARTBEAT_SECONDS = 10.0


def retry_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--max-attempts, --retry-base-delay, --retry-max-delay, --retry-deadline: every command that calls AWS.

    They set the runtime's retry policy directly, so commands never see them."""

    def setter(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
        def store(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
            if isinstance(value, float) and not math.isfinite(value):
                raise click.BadParameter(f"'{value}' is not a finite number of seconds")
            runtime = ctx.find_object(Shell).runtime  # type: ignore[union-attr]
            runtime.settings = replace(runtime.settings, policy=replace(runtime.settings.policy, **{name: value}))

        return store

    options = [
        ("--max-attempts", "max_attempts", click.IntRange(1, 100), DEFAULT_MAX_ATTEMPTS, "Attempts per call."),
        (
            "--retry-base-delay",
            "base_delay",
            click.FloatRange(0),
            DEFAULT_BASE_DELAY,
            "Backoff base in seconds (full jitter: uniform(0, min(max, base * 2**n))).",
        ),
        ("--retry-max-delay", "max_delay", click.FloatRange(0), DEFAULT_MAX_DELAY, "Backoff cap in seconds."),
        (
            "--retry-deadline",
            "deadline",
            click.FloatRange(0),
            DEFAULT_DEADLINE,
            "Seconds one call may spend retrying; throttling (429) spends time here, not attempts.",
        ),
    ]
    for flag, name, kind, default, help_text in reversed(options):
        command = click.option(
            flag,
            type=kind,
            default=default,
            show_default=True,
            envvar="RECONCILER_" + flag.removeprefix("--").replace("-", "_").upper(),
            help=help_text,
            expose_value=False,
            callback=setter(name),
        )(command)
    return command


def parse_where(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Where | None:
    try:
        return None if value is None else Where.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def parse_limit(_ctx: click.Context, _param: click.Parameter, value: int | None) -> int | None:
    from ..core.render import MIN_MARKDOWN_LIMIT

    if value is not None and 0 < value < MIN_MARKDOWN_LIMIT:
        raise click.BadParameter(f"{value}: 0 (no limit) or at least {MIN_MARKDOWN_LIMIT} characters")
    return value


markdown_limit_option = click.option(
    "--markdown-limit",
    type=click.IntRange(0),
    callback=parse_limit,
    default=None,
    metavar="CHARS",
    help="Most characters of --format markdown [default: 65536, GitHub's limit for a comment; 0: no limit].",
)


def parse_hash(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"sha256:[0-9a-f]{64}", value):
        raise click.BadParameter(f"{value!r}: expected sha256: and 64 lower-case hex digits (a plan's changesHash)")
    return value


def parse_commit(value: str | None) -> str | None:
    """A full commit id: it goes into a hidden marker, so nothing else may."""
    if value is not None and not re.fullmatch(r"[0-9a-f]{40}", value):
        raise click.BadParameter(f"{value!r}: expected a commit's 40 lower-case hex digits")
    return value


path_argument = click.argument("path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path))
membership_option = click.option(
    "--membership", "memberships", multiple=True, metavar="ID", help="Only this membership (repeatable)."
)
target_option = click.option(
    "--target",
    metavar="ACCOUNT/REGION",
    callback=parse_where,
    help="Only files of this account and region (`default/REGION`: files without accountId).",
)


def selection(memberships: Sequence[str], target: Where | None) -> Selection:
    from ..core.plan import Selection

    return Selection(frozenset(memberships), target)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option("--region", help="AWS region for files that do not name one (else the AWS config).")
@click.option("--profile", help="AWS profile to use.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=DEFAULT_PARALLELISM,
    show_default=True,
    help="Concurrent calls.",
)
@click.option("-v", "--verbose", count=True, help="More detail (retries, timings).")
@click.option(
    "--assume-role-template",
    metavar="ARN",
    envvar="RECONCILER_ASSUME_ROLE_TEMPLATE",
    help="Role to assume per account, e.g. arn:aws:iam::{accountId}:role/cleanrooms-reconciler.",
)
@click.option(
    "--config",
    metavar="FILE",
    type=click.Path(path_type=Path, dir_okay=True),
    help="The organisation config (else $RECONCILER_CONFIG, else ./reconciler.yaml when present).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    region: str | None,
    profile: str | None,
    parallelism: int,
    verbose: int,
    assume_role_template: str | None,
    config: Path | None,
) -> None:
    """Reconcile AWS Clean Rooms membership settings with desired state kept in git."""
    from ..core.config import config_path

    if assume_role_template is not None:
        try:
            formatted = assume_role_template.format(accountId="{accountId}")
        except (KeyError, IndexError, ValueError) as exc:
            raise UsageError(
                "--assume-role-template takes only {accountId} between braces (a literal brace is {{ or }}): "
                f"{assume_role_template!r}"
            ) from exc
        if "{accountId}" not in formatted:
            raise UsageError("--assume-role-template must contain {accountId}")
    env: Environment = ctx.obj
    config = config_path(config, env.variables)
    settings = Settings(region, profile, parallelism, verbose, assume_role_template, config=config)
    shell = Shell(env, Runtime(settings))
    shell.runtime.notify, shell.runtime.progress = shell.err, shell.progress
    ctx.obj = shell


@cli.command()
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


@cli.command()
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


@cli.command()
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
@membership_option
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


@cli.command()
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
@membership_option
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
    from ..core import render
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
    shell.out(render.outcomes_text(result.outcomes, shell.style), nl=False)
    shell.warn(actions.append_summary(shell.env.github, render.outcomes_markdown(result.outcomes)))
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


@cli.command()
@path_argument
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option(
    "--report-unmanaged",
    is_flag=True,
    help="Also list ACTIVE memberships in the covered accounts and regions that no file manages.",
)
@markdown_limit_option
@membership_option
@target_option
@retry_options
@click.pass_obj
def drift(
    shell: Shell,
    path: Path,
    fmt: str,
    report_unmanaged: bool,
    markdown_limit: int | None,
    memberships: tuple[str, ...],
    target: Where | None,
) -> ExitStatus:
    """Read-only comparison for the nightly check: exit 0 no drift, 2 drift, 1 error."""
    from ..core import render
    from ..usecases import drift

    result = drift.drift(shell.runtime, path, selection(memberships, target), report_unmanaged)
    shell.emit(result.report, fmt, render.DRIFT, markdown_limit)
    shell.errors(result.messages)
    return result.status


@cli.command()
@path_argument
@click.option("--format", "fmt", type=click.Choice(["text", "github-matrix"]), default="text", show_default=True)
@click.pass_obj
def targets(shell: Shell, path: Path, fmt: str) -> None:
    """List the account/region pairs the desired state covers (a GitHub Actions matrix with github-matrix)."""
    from ..usecases import targets

    found = targets.targets(shell.runtime, path)
    if fmt == "github-matrix":
        include = [{"account": w.account or DEFAULT_ACCOUNT, "region": w.region, "target": w.label} for w in found]
        shell.out(json.dumps({"include": include}, separators=(",", ":")))
    else:
        for where in found:
            shell.out(where.label)


@cli.command("import")
@click.option("--all", "import_all", is_flag=True, help="Every ACTIVE membership in the account and region.")
@membership_option
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_PATH,
    show_default=True,
    help="Where the files go.",
)
@click.option("--overwrite", is_flag=True, help="Update existing files in place (comments and key order kept).")
@retry_options
@click.pass_obj
def import_(shell: Shell, import_all: bool, memberships: tuple[str, ...], out_dir: Path, overwrite: bool) -> ExitStatus:
    """Write desired-state files from live memberships, so a plan right after shows no changes."""
    from ..usecases import imports

    result = imports.import_memberships(shell.runtime, memberships, import_all, out_dir, overwrite)
    for line in result.written:
        shell.out(printable(line))
    shell.errors(result.failures)
    shell.out(f"Import: {len(result.written)} of {result.total} membership(s) into {result.out_dir}")
    return result.status


@cli.command("render")
@click.argument("report", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--format", "fmt", type=FORMATS, default="markdown", show_default=True)
@click.option("--drift", "as_drift", is_flag=True, help="Word it as a drift report.")
@markdown_limit_option
@click.pass_obj
def render_(shell: Shell, report: Path, fmt: str, as_drift: bool, markdown_limit: int | None) -> None:
    """Show a report from `plan`/`drift --format json` (or a saved plan) again, in any format. No AWS call."""
    from ..core import render
    from ..usecases import publish

    shell.emit(publish.read_report(report), fmt, render.DRIFT if as_drift else render.PLAN, markdown_limit)


@cli.group("github")
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


@cli.command()
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


def run(args: Sequence[str], env: Environment) -> int:
    """Run the CLI with `args` in `env`; the exit status. Every exception is mapped here and nowhere else."""
    try:
        # click writes help, version and prompts to sys.stdout itself: point it at the environment's streams.
        with redirect_stdout(env.stdout), redirect_stderr(env.stderr):
            result = cli.main(list(args), prog_name="reconciler", standalone_mode=False, obj=env)
    except click.exceptions.Abort as abort:
        # click turns Ctrl-C (and EOF at a prompt) into Abort.
        if isinstance(abort.__context__, KeyboardInterrupt):
            click.echo("\ninterrupted", file=env.stderr)
            return ExitStatus.INTERRUPTED
        click.echo("error: no answer; nothing was changed", file=env.stderr)
        return ExitStatus.ERROR
    except KeyboardInterrupt:
        click.echo("\ninterrupted", file=env.stderr)
        return ExitStatus.INTERRUPTED
    except Terminated as exc:
        _err(env, f"error: {exc.message}")
        return ExitStatus.ERROR
    except click.ClickException as exc:
        # A usage error exits 1: 2 means "changes" or "drift" to scripts and CI.
        shown = io.StringIO()
        exc.show(file=shown)
        _err(env, shown.getvalue().removesuffix("\n"))
        return ExitStatus.ERROR
    except InvalidDesiredState as exc:
        from ..edges.github import actions

        for line in exc.details:
            _err(env, printable(line))
        for line in actions.error_annotations(env.github, exc.problems):
            click.echo(line, file=env.stdout)
        _err(env, printable(f"error: {exc.message}"))
        return ExitStatus.ERROR
    except ReconcilerError as exc:
        for line in exc.details:
            _err(env, printable(line))
        _err(env, printable(f"error: {exc.message}"))
        return ExitStatus.ERROR
    except Exception as exc:  # a bug: one line, never a traceback, and still exit 1
        _err(env, printable(f"error: unexpected {type(exc).__name__}: {exc} (this is a bug in reconciler)"))
        return ExitStatus.ERROR
    return ExitStatus.OK if result is None else int(result)


def _sgr(name: str) -> str:
    """The escape sequence that starts colour `name` ("bold" too), or that resets it ("")."""
    if not name:
        return "\x1b[0m"
    return click.style("", bold=True, reset=False) if name == "bold" else click.style("", fg=name, reset=False)


def _err(env: Environment, line: str) -> None:
    click.echo(terminal_line(line), file=env.stderr)


def main() -> None:
    # pydantic looks for plugins by scanning every installed distribution's entry points when it builds
    # the first model (~25 ms, more in a large environment); the CLI uses none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(run(sys.argv[1:], Environment.from_os()))


def _terminate(signum: int, _frame: object) -> None:
    # Outside apply's write phase (which installs its own handler): end now, through `run`, with a message
    # and, for apply, a receipt; the reads not started are dropped.
    raise Terminated(signal.Signals(signum).name)
