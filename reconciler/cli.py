"""The command line: parses options, calls the core, prints, and maps outcomes to exit codes.

The only module that prints or exits. Commands hold no logic of their own.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import IntEnum
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__, importer, render
from .api import AwsError, Gateway, MembershipReader, ReadOnly, Where
from .applier import Applier, Outcome, Status
from .desired import DesiredFile, Problem, load
from .models import LiveMembership, desired_json_schema
from .plan import Plan, PlanError, Unmanaged
from .planner import Target, build_plan, resolve_targets
from .ratelimit import LimitedGateway
from .reader import fetch, list_active, read_live
from .retry import (
    DEFAULT_BASE_DELAY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_DELAY,
    Retrier,
    Retry,
    RetryPolicy,
)


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2


DEFAULT_PATH = Path("desired-state")
# How --target and `targets` name the pair of files that carry no accountId (run with the caller's role).
DEFAULT_ACCOUNT = "default"
FORMATS = click.Choice(["text", "markdown", "json"])


@dataclass
class Runtime:
    """What every command shares: global options and the AWS gateway, made on first use."""

    region: str | None
    profile: str | None
    parallelism: int
    verbose: int
    assume_role_template: str | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    _gateway: Gateway | None = None
    _session_region: str | None = None

    def gateway(self) -> Gateway:
        if self._gateway is None:
            # Imported here so `validate` and `schema` never load boto3.
            from botocore.exceptions import BotoCoreError

            from .aws import AwsGateway, make_session

            try:
                session = make_session(self.profile, self.region)
            except BotoCoreError as exc:
                fail(f"AWS configuration: {exc}")
            self._gateway = LimitedGateway(
                AwsGateway(session, max_connections=self.parallelism, assume_role_template=self.assume_role_template)
            )
            self._session_region = session.region_name
        return self._gateway

    def default_region(self) -> str | None:
        self.gateway()
        return self.region or self._session_region

    def retrier(self) -> Retrier:
        return Retrier(self.policy, on_retry=self._log_retry)

    def _log_retry(self, error: AwsError, kind: Retry, attempt: int, delay: float) -> None:
        if self.verbose:
            target = error.membership_id or ""
            click.echo(
                f"retry {attempt}/{self.policy.max_attempts} {error.operation} {target}: "
                f"{kind.value} ({error.code}{', ' + error.reason if error.reason else ''}); "
                f"waiting {delay:.2f}s",
                err=True,
            )


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(ExitStatus.ERROR)


def colour_enabled() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def style_for(enabled: bool) -> render.Style:
    if not enabled:
        return render.plain
    return lambda text, colour: click.style(text, fg=colour)


def source_link() -> Callable[[str], str] | None:
    server, repo, sha = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"))
    if not (server and repo and sha):
        return None
    return lambda path: f"{server}/{repo}/blob/{sha}/{path}"


@contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr when it is a terminal; silent otherwise (CI logs stay clean)."""
    if not sys.stderr.isatty() or total == 0:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def github_annotations(problems: Sequence[Problem]) -> None:
    """On GitHub Actions, validation problems also become annotations shown inline on the PR diff."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return

    def escape(value: str, *, prop: bool = False) -> str:
        value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return value.replace(":", "%3A").replace(",", "%2C") if prop else value

    for p in problems:
        message = f"{p.field}: {p.message}" if p.field else p.message
        click.echo(f"::error file={escape(p.path, prop=True)},line={p.line},col={p.col}::{escape(message)}")


def step_summary(markdown: str) -> None:
    """On GitHub Actions, plan/apply/drift add their Markdown to the job's summary page."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as stream:
            stream.write(markdown + "\n")


def load_desired(path: Path, memberships: Sequence[str] = ()) -> list[DesiredFile]:
    """Load and validate all files; any problem stops the command before the first AWS call."""
    result = load(path)
    if result.problems:
        for problem in result.problems:
            click.echo(str(problem), err=True)
        github_annotations(result.problems)
        fail(f"{len(result.problems)} problem(s) in the desired state; nothing was read or changed")
    files = result.files
    if memberships:
        known = {f.membership.membershipIdentifier for f in files}
        unknown = sorted(set(memberships) - known)
        if unknown:
            fail(f"--membership names no file under {path}: {', '.join(unknown)}")
        files = [f for f in files if f.membership.membershipIdentifier in memberships]
    return files


def parse_target(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    account, _, region = value.partition("/")
    if not (account and region):
        fail(
            f"--target {value!r}: expected ACCOUNT/REGION, with ACCOUNT `{DEFAULT_ACCOUNT}` for files without accountId"
        )
    return account, region


def target_key(where: Where) -> tuple[str, str]:
    """The (account, region) pair --target and `targets` speak of, for a file or a planned change."""
    return where.account or DEFAULT_ACCOUNT, where.region


def select(runtime: Runtime, files: Sequence[DesiredFile], target: str | None) -> tuple[list[Target], list[PlanError]]:
    """Resolve each file's region; with --target, keep only that account/region pair."""
    wanted = parse_target(target)
    targets, errors = resolve_targets(files, runtime.default_region())
    if wanted is not None:
        targets = [t for t in targets if target_key(t.where) == wanted]
    return targets, errors


def compute_plan(
    runtime: Runtime, targets: Sequence[Target], errors: Sequence[PlanError], reader: MembershipReader
) -> Plan:
    with progress(len(targets), "Reading memberships") as advance:
        live: dict[str, Any] = read_live(reader, targets, runtime.retrier(), runtime.parallelism, advance)
    return build_plan(targets, live).with_errors(errors)


def emit(plan: Plan, fmt: str, words: render.Words = render.PLAN) -> None:
    link = source_link()
    click.echo(render.render(plan, fmt, style_for(colour_enabled()), link, words), nl=False)
    step_summary(render.markdown(plan, link, words))


def report_errors(errors: Sequence[PlanError]) -> None:
    # The errors themselves are part of the rendered plan; stderr gets the verdict.
    count = len({e.membershipIdentifier for e in errors})
    click.echo(f"error: {count} membership(s) cannot be planned; nothing will be applied", err=True)


def retry_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--max-attempts / --retry-base-delay / --retry-max-delay, shared by every command that calls AWS.

    They set the runtime's retry policy directly, so commands never see them."""

    def setter(field_name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
        def store(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
            runtime = ctx.find_object(Runtime)
            assert runtime is not None, "the command group makes the Runtime first"
            runtime.policy = replace(runtime.policy, **{field_name: value})

        return store

    options = [
        (
            "--max-attempts",
            "max_attempts",
            click.IntRange(1, 100),
            DEFAULT_MAX_ATTEMPTS,
            "Attempts per call, the first included.",
        ),
        (
            "--retry-base-delay",
            "base_delay",
            click.FloatRange(0),
            DEFAULT_BASE_DELAY,
            "Backoff base in seconds (full jitter: uniform(0, min(max, base * 2**n))).",
        ),
        ("--retry-max-delay", "max_delay", click.FloatRange(0), DEFAULT_MAX_DELAY, "Backoff cap in seconds."),
    ]
    for flag, field_name, kind, default, help_text in reversed(options):
        command = click.option(
            flag,
            type=kind,
            default=default,
            show_default=True,
            envvar="RECONCILER_" + flag.removeprefix("--").replace("-", "_").upper(),
            help=help_text,
            expose_value=False,
            callback=setter(field_name),
        )(command)
    return command


path_argument = click.argument("path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path))
membership_option = click.option(
    "--membership",
    "memberships",
    multiple=True,
    metavar="ID",
    help="Only this membership (repeatable).",
)
target_option = click.option(
    "--target",
    metavar="ACCOUNT/REGION",
    help=f"Only files of this account and region (`{DEFAULT_ACCOUNT}/REGION`: files without accountId).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option("--region", help="AWS region for files that do not name one (else the AWS config).")
@click.option("--profile", help="AWS profile to use.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Concurrent API calls.",
)
@click.option("-v", "--verbose", count=True, help="More detail (retries, timings).")
@click.option(
    "--assume-role-template",
    metavar="ARN",
    envvar="RECONCILER_ASSUME_ROLE_TEMPLATE",
    help="Role to assume per account, e.g. arn:aws:iam::{accountId}:role/cleanrooms-reconciler.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    region: str | None,
    profile: str | None,
    parallelism: int,
    verbose: int,
    assume_role_template: str | None,
) -> None:
    """Reconcile AWS Clean Rooms membership settings with desired state kept in git."""
    if assume_role_template is not None and "{accountId}" not in assume_role_template:
        fail("--assume-role-template must contain {accountId}")
    ctx.obj = Runtime(region, profile, parallelism, verbose, assume_role_template)


@cli.command()
@path_argument
def validate(path: Path) -> None:
    """Check every desired-state file; report all problems. Makes no AWS call."""
    result = load(path)
    for problem in result.problems:
        click.echo(str(problem))
    github_annotations(result.problems)
    if result.problems:
        click.echo(f"{len(result.problems)} problem(s) in {path}", err=True)
        sys.exit(ExitStatus.ERROR)
    click.echo(f"{len(result.files)} membership file(s) valid in {path}")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of a desired-state file."""
    click.echo(json.dumps(desired_json_schema(), indent=2))


@cli.command()
@path_argument
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Save the plan (JSON) for apply --plan.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none.")
@membership_option
@target_option
@retry_options
@click.pass_obj
def plan(
    runtime: Runtime,
    path: Path,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    memberships: tuple[str, ...],
    target: str | None,
) -> None:
    """Read the live memberships and show what apply would change."""
    targets, errors = select(runtime, load_desired(path, memberships), target)
    result = compute_plan(runtime, targets, errors, runtime.gateway())
    emit(result, fmt)
    if result.errors:
        report_errors(result.errors)
        if out is not None:
            click.echo(f"error: the plan was not saved to {out}: it has errors", err=True)
        sys.exit(ExitStatus.ERROR)
    if out is not None:
        out.write_text(result.dumps())
    if detailed_exitcode and result.changes:
        sys.exit(ExitStatus.CHANGES)


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
    "--audit-log",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append one JSON line per write attempt to this file.",
)
@membership_option
@target_option
@retry_options
@click.pass_obj
def apply(
    runtime: Runtime,
    path: Path,
    plan_file: Path | None,
    auto_approve: bool,
    max_changes: int | None,
    audit_log: Path | None,
    memberships: tuple[str, ...],
    target: str | None,
) -> None:
    """Send only the changed fields, with safe retries; exit 0 only when every change is applied."""
    if plan_file is not None:
        planned = load_saved_plan(plan_file, memberships, parse_target(target))
    else:
        targets, errors = select(runtime, load_desired(path, memberships), target)
        planned = compute_plan(runtime, targets, errors, runtime.gateway())
    emit(planned, "text")
    if planned.errors:
        report_errors(planned.errors)
        sys.exit(ExitStatus.ERROR)
    changes = planned.changes
    if not changes:
        click.echo("Nothing to apply.")
        return
    if max_changes is not None and len(changes) > max_changes:
        fail(f"{len(changes)} memberships would change, more than --max-changes {max_changes}; nothing was applied")
    confirm(auto_approve, len(changes))

    with audit_writer(audit_log) as audit:
        applier = Applier(runtime.gateway(), runtime.retrier(), audit, strict=plan_file is not None)
        live = None
        if plan_file is not None:
            problems, live = applier.preflight(changes, runtime.parallelism)
            if problems:
                for problem in problems:
                    click.echo(f"error: {problem}", err=True)
                fail(f"the saved plan {plan_file} no longer holds; nothing was applied")
        with stop_on_signals(applier), progress(len(changes), "Applying") as advance:
            outcomes = applier.apply(changes, runtime.parallelism, live, advance)
    report_outcomes(outcomes)
    step_summary(outcomes_markdown(outcomes))
    if not all(o.ok for o in outcomes):
        sys.exit(ExitStatus.ERROR)


def load_saved_plan(plan_file: Path, memberships: Sequence[str], target: tuple[str, str] | None) -> Plan:
    try:
        saved = Plan.from_json(json.loads(plan_file.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        fail(f"{plan_file} is not a saved plan: {exc}")
    kept = [
        m
        for m in saved.memberships
        if (not memberships or m.membershipIdentifier in memberships)
        and (target is None or target_key(m.where) == target)
    ]
    return Plan.build(kept)


def confirm(auto_approve: bool, count: int) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        fail("refusing to apply without a terminal to confirm on; pass --auto-approve")
    answer = click.prompt(
        f"Apply changes to {count} membership(s)? Only 'yes' will be accepted", default="", show_default=False
    )
    if answer != "yes":
        fail("apply cancelled; nothing was changed")


@contextmanager
def audit_writer(path: Path | None) -> Iterator[Callable[[Any], None] | None]:
    if path is None:
        yield None
        return
    import threading

    lock = threading.Lock()
    with path.open("a", encoding="utf-8") as stream:

        def write(record: Any) -> None:
            with lock:
                stream.write(json.dumps(record, sort_keys=True) + "\n")
                stream.flush()

        yield write


@contextmanager
def stop_on_signals(applier: Applier) -> Iterator[None]:
    """Ctrl-C / SIGTERM: writes in flight finish, no new write starts, and the report says which is which."""
    import signal

    def handler(signum: int, _frame: object) -> None:
        click.echo(f"\n{signal.Signals(signum).name}: finishing writes in flight, starting no new ones", err=True)
        applier.stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def outcomes_markdown(outcomes: Sequence[Outcome]) -> str:
    icons = {Status.APPLIED: ":white_check_mark:", Status.CONVERGED: ":white_check_mark:"}
    lines = ["#### Apply result", ""]
    lines += [f"- {icons.get(o.status, ':x:')} {o.describe()}" for o in sorted(outcomes, key=_outcome_order)]
    return "\n".join(lines) + "\n"


def _outcome_order(outcome: Outcome) -> tuple[str, str]:
    return outcome.change.source, outcome.change.membershipIdentifier


def report_outcomes(outcomes: Sequence[Outcome]) -> None:
    style = style_for(colour_enabled())
    colours = {Status.APPLIED: "green", Status.CONVERGED: "green", Status.NOT_STARTED: "yellow"}
    for outcome in sorted(outcomes, key=_outcome_order):
        click.echo(style(outcome.describe(), colours.get(outcome.status, "red")))
    counts = {status: sum(1 for o in outcomes if o.status is status) for status in Status}
    click.echo(
        f"Apply: {counts[Status.APPLIED]} applied, {counts[Status.CONVERGED]} already converged, "
        f"{counts[Status.FAILED] + counts[Status.STALE]} failed, {counts[Status.NOT_STARTED]} not started."
    )
    if not all(o.ok for o in outcomes):
        click.echo(
            "Not everything was applied. Run apply again: it reads live state and sends only what still differs.",
            err=True,
        )


@cli.command()
@path_argument
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option(
    "--report-unmanaged",
    is_flag=True,
    help="Also list ACTIVE memberships in the covered accounts and regions that no file manages.",
)
@membership_option
@target_option
@retry_options
@click.pass_obj
def drift(
    runtime: Runtime,
    path: Path,
    fmt: str,
    report_unmanaged: bool,
    memberships: tuple[str, ...],
    target: str | None,
) -> None:
    """Read-only comparison for the nightly check: exit 0 no drift, 2 drift, 1 error."""
    files = load_desired(path, memberships)
    targets, errors = select(runtime, files, target)
    # A reader with no update method: drift cannot write, and runs under a read-only IAM role.
    reader = ReadOnly(runtime.gateway())
    report = compute_plan(runtime, targets, errors, reader)
    if report_unmanaged:
        managed = {f.membership.membershipIdentifier for f in load(path).files}
        report = report.with_unmanaged(find_unmanaged(runtime, reader, targets, managed))
    emit(report, fmt, render.DRIFT)
    if report.errors:
        click.echo(f"error: {len(report.errors)} error(s) while checking drift", err=True)
        sys.exit(ExitStatus.ERROR)
    if report.changes:
        sys.exit(ExitStatus.CHANGES)


def find_unmanaged(
    runtime: Runtime, reader: MembershipReader, targets: Sequence[Target], managed: set[str]
) -> list[Unmanaged]:
    found: list[Unmanaged] = []
    retrier = runtime.retrier()
    for where in sorted({t.where for t in targets}):
        try:
            summaries = list_active(reader, retrier, where)
        except AwsError as error:
            fail(f"cannot list memberships in {where}: {error}")
        found += [
            Unmanaged(s["id"], s.get("collaborationName", ""), where.region, s.get("arn", ""))
            for s in summaries
            if s["id"] not in managed and s.get("status", "ACTIVE") == "ACTIVE"
        ]
    return found


@cli.command()
@path_argument
@click.option("--format", "fmt", type=click.Choice(["text", "github-matrix"]), default="text", show_default=True)
@click.pass_obj
def targets(runtime: Runtime, path: Path, fmt: str) -> None:
    """List the account/region pairs the desired state covers (a GitHub Actions matrix with github-matrix)."""
    resolved, errors = resolve_targets(load_desired(path), runtime.default_region())
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        sys.exit(ExitStatus.ERROR)
    pairs = sorted({target_key(t.where) for t in resolved})
    if fmt == "github-matrix":
        include = [{"account": a, "region": r, "target": f"{a}/{r}"} for a, r in pairs]
        click.echo(json.dumps({"include": include}, separators=(",", ":")))
    else:
        for account, region in pairs:
            click.echo(f"{account}/{region}")


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
def import_(
    runtime: Runtime,
    import_all: bool,
    memberships: tuple[str, ...],
    out_dir: Path,
    overwrite: bool,
) -> None:
    """Write desired-state files from live memberships, so a plan right after shows no changes."""
    if import_all == bool(memberships):
        fail("choose either --all or --membership ID (repeatable)")
    region = runtime.default_region()
    if region is None:
        fail("no region: pass --region or configure AWS_DEFAULT_REGION")
    where = Where(region)
    reader = ReadOnly(runtime.gateway())
    retrier = runtime.retrier()
    try:
        ids = list(memberships) or [s["id"] for s in list_active(reader, retrier, where)]
    except AwsError as error:
        fail(f"cannot list memberships in {where}: {error}")
    existing = (
        {f.membership.membershipIdentifier: Path(f.path) for f in load(out_dir).files} if out_dir.exists() else {}
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for membership_id in ids:
        try:
            live = fetch(reader, retrier, where, membership_id)
        except AwsError as error:
            click.echo(f"error: {membership_id}: {error}", err=True)
            failed += 1
            continue
        if live.status != "ACTIVE":
            click.echo(
                f"error: {membership_id}: status is {live.status}; only ACTIVE memberships are imported", err=True
            )
            failed += 1
            continue
        click.echo(write_imported(live, existing.get(membership_id) or out_dir / importer.file_name(live), overwrite))
    click.echo(f"Import: {len(ids) - failed} of {len(ids)} membership(s) into {out_dir}")
    if failed:
        sys.exit(ExitStatus.ERROR)


def write_imported(live: LiveMembership, path: Path, overwrite: bool) -> str:
    if path.exists() and not overwrite:
        return f"kept {path}: it exists (--overwrite updates it in place)"
    if path.exists():
        path.write_text(importer.render_update(path.read_text(), live))
        return f"updated {path}"
    schema = os.path.relpath(Path("schema") / "membership.schema.json", path.parent)
    path.write_text(importer.render_new(live, schema))
    return f"wrote {path}"


@cli.command()
def demo() -> None:
    """The whole loop against an embedded local Clean Rooms endpoint: no AWS account needed."""
    import tempfile

    try:
        from . import demo as story
    except ImportError as exc:
        fail(f"{exc}")
    with tempfile.TemporaryDirectory(prefix="reconciler-demo-") as tmp:
        ok = story.run(click.echo, lambda title: click.echo(click.style(f"\n== {title}", bold=True)), Path(tmp))
    if not ok:
        fail("the demo did not go as expected")
    click.echo("\nDemo complete: planned, applied, converged, and caught drift, all against 127.0.0.1.")


def main() -> None:
    cli(prog_name="reconciler")
