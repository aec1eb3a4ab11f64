"""The use cases behind the commands: validate, plan, apply, drift, import, targets.

Each takes parsed options and injected collaborators (the Runtime with its gateway), and returns a result
value that knows its exit status, or raises an error from errors.py. Nothing here prints or exits: the
CLI renders results, and maps errors to exit statuses in one place.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import receipt as receipt_module
from ..core.api import AwsError, MembershipReader, ReadOnly, Where
from ..core.desired import DesiredFile, LoadResult, load
from ..core.errors import (
    ApplyRefused,
    AwsCallFailed,
    ExitStatus,
    InvalidDesiredState,
    NothingSelected,
    OutputNotWritable,
    PlanHasErrors,
    PlanNotReviewed,
    ReconcilerError,
    StalePlan,
    Terminated,
    UsageError,
)
from ..core.plan import Plan, PlanError, Selection, Unmanaged
from ..core.planner import ResolvedFile, build_plan, resolve_regions
from .runtime import ConfigResult, Notify, Runtime

if TYPE_CHECKING:
    from ..core.config import Guardrails
    from ..core.models import LiveMembership
    from ..core.outcome import Outcome
    from ..core.retry import Retrier
    from .applier import Applier, AuditSink

# The calling side (reader, applier, saved plans, import) is imported by the use cases that call AWS, so
# `validate`, the one command that runs on every pull request before anything else, loads only the files.

# -- validate ----------------------------------------------------------------------------------------


def validate(path: Path, config: ConfigResult = (None, [])) -> LoadResult:
    """Every file under `path`, with reconciler.yaml's guardrails; a config with problems stops here, since
    every file would be judged by rules that do not hold."""
    guardrails, problems = config
    if problems:
        return LoadResult([], problems)
    result = load(path, guardrails)
    _require_files(result, path)
    return result


def _require_files(result: LoadResult, path: Path) -> None:
    if not result.files and not result.problems:
        # Terraform's "No configuration files": an empty scope is a mistake, never "no changes".
        raise NothingSelected(f"no membership files (*.yaml, *.yml) under {path}")


def validate_status(result: LoadResult) -> ExitStatus:
    return ExitStatus.ERROR if result.problems else ExitStatus.OK


# -- loading and selecting -----------------------------------------------------------------------------


def load_desired(path: Path, config: ConfigResult = (None, [])) -> list[DesiredFile]:
    """Every file, valid; any problem stops the command before the first AWS call."""
    result = validate(path, config)
    if result.problems:
        raise InvalidDesiredState(result.problems)
    return result.files


def select_files(files: Sequence[DesiredFile], selection: Selection, path: Path) -> list[DesiredFile]:
    if selection.memberships:
        unknown = sorted(selection.memberships - {f.membership.membershipIdentifier for f in files})
        if unknown:
            raise NothingSelected(f"--membership names no file under {path}: {', '.join(unknown)}")
    return [f for f in files if selection.admits_id(f.membership.membershipIdentifier)]


def resolve(
    runtime: Runtime, files: Sequence[DesiredFile], selection: Selection, path: Path
) -> tuple[list[ResolvedFile], list[PlanError]]:
    """Each file's region; with --target, only that account and region, which must select something."""
    resolved, errors = resolve_regions(files, runtime.default_region())
    if selection.where is None:
        return resolved, errors
    kept = [r for r in resolved if selection.admits(r.membership_id, r.where)]
    if not kept:
        covered = ", ".join(sorted({r.where.label for r in resolved})) or "none"
        raise NothingSelected(
            f"--target {selection.where.label} selects no membership under {path} (the files cover: {covered})"
        )
    return kept, errors


def read_plan(
    runtime: Runtime,
    resolved: Sequence[ResolvedFile],
    errors: Sequence[PlanError],
    reader: MembershipReader,
    label: str = "Reading memberships",
) -> Plan:
    from .reader import read_live, with_designations

    with runtime.progress(len(resolved), label) as advance:
        live = read_live(reader, resolved, runtime.retrier(), runtime.parallelism, advance)
    live = with_designations(reader, runtime.retrier(), resolved, live, runtime.parallelism)
    guardrails, _problems = runtime.guardrails()  # loaded, and found sound, with the files
    allowed = guardrails.accounts if guardrails is not None else None
    return build_plan(resolved, live, allowed).with_errors(errors)


def cannot_plan(errors: Sequence[PlanError]) -> str:
    count = len({e.membershipIdentifier for e in errors})
    return f"{count} membership(s) cannot be planned; nothing will be applied"


def _fresh_plan(runtime: Runtime, path: Path, selection: Selection) -> Plan:
    return _plan_files(runtime, load_desired(path, runtime.guardrails()), selection, path)


def _plan_files(runtime: Runtime, files: Sequence[DesiredFile], selection: Selection, path: Path) -> Plan:
    resolved, errors = resolve(runtime, select_files(files, selection, path), selection, path)
    return replace(read_plan(runtime, resolved, errors, runtime.gateway()), target=selection.where)


# -- plan ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    status: ExitStatus
    messages: tuple[str, ...] = ()  # for stderr, after the plan


def plan(
    runtime: Runtime,
    path: Path,
    selection: Selection,
    out: Path | None,
    detailed: bool,
    expect_changes_hash: str | None = None,
) -> PlanResult:
    result = _fresh_plan(runtime, path, selection)
    if result.errors:
        messages = [cannot_plan(result.errors)]
        if out is not None:
            messages.append(f"the plan was not saved to {out}: it has errors")
        return PlanResult(result, ExitStatus.ERROR, tuple(messages))
    if out is not None:
        write_text(out, result.dumps(), "the plan to")
    if expect_changes_hash is not None and result.changes_hash() != expect_changes_hash:
        # The apply workflow plans first, so approvers see a plan that differs from the reviewed one fail
        # before anyone is asked to approve it.
        message = (
            f"the plan is not the one reviewed: its changes hash is {result.changes_hash()}, "
            f"the reviewed one {expect_changes_hash}"
        )
        return PlanResult(result, ExitStatus.ERROR, (message,))
    status = ExitStatus.CHANGES if detailed and result.changes else ExitStatus.OK
    return PlanResult(result, status)


def write_text(path: Path, text: str, what: str) -> None:
    """Write a file the user named, creating its directory; an OSError becomes a one-line error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise OutputNotWritable(what, str(path), error) from error


# -- apply ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyOptions:
    plan_file: Path | None = None
    max_changes: int | None = None
    audit_log: Path | None = None
    # What a reviewer approved: the plan computed now must have this changes hash, else nothing is written.
    expect_changes_hash: str | None = None
    reviewed_plan: Path | None = None  # the approved plan itself, to say what differs
    receipt: Path | None = None
    context: receipt_module.Context = field(default_factory=receipt_module.Context)
    force: bool = False  # past reconciler.yaml's maxChangesPercent


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    outcomes: tuple[Outcome, ...] = ()
    interrupted_by: str | None = None  # the signal that stopped new writes
    messages: tuple[str, ...] = ()  # errors after the writes (a receipt that could not be written)

    @property
    def status(self) -> ExitStatus:
        if all(o.ok for o in self.outcomes) and not self.messages:
            return ExitStatus.OK
        return ExitStatus.INTERRUPTED if self.interrupted_by == "SIGINT" else ExitStatus.ERROR


def apply(
    runtime: Runtime,
    path: Path,
    selection: Selection,
    options: ApplyOptions,
    *,
    show: Callable[[Plan], None],
    confirm: Callable[[int], None],
) -> ApplyResult:
    """Plan (or load the saved plan), show it, check it is the reviewed one and the blast radius, confirm,
    then write; with --receipt, leave a receipt of the run whatever its end."""
    started = _now()
    collector = receipt_module.Collector()
    planned: Plan | None = None
    # The receipt is written first, before any call, so one that cannot be written is found before any write
    # rather than after them all; it says the run started, should nothing ever replace it (SIGKILL).
    _write_receipt(options, None, (), collector, "started", "the run started and did not finish", started)
    try:
        planned, files = _planned(runtime, path, selection, options)
        show(planned)
        result = _apply_planned(runtime, path, selection, planned, files, options, confirm, collector)
    except (ReconcilerError, Terminated) as error:
        _write_receipt(options, planned, (), collector, "refused", error.message, started)
        raise
    except KeyboardInterrupt:
        _write_receipt(options, planned, (), collector, "refused", "interrupted (SIGINT) before any write", started)
        raise
    outcomes, status = result.outcomes, result.status
    if not outcomes:
        word, message = "nothing to apply", "live state matches the plan"
    else:
        word = "applied" if status is ExitStatus.OK else "incomplete"
        message = f"{sum(o.ok for o in outcomes)} of {len(outcomes)} done"
    try:
        _write_receipt(options, planned, outcomes, collector, word, message, started)
    except OutputNotWritable as error:
        # The writes are done: what they did is still reported, and the run fails for the missing receipt.
        return replace(result, messages=(error.message,))
    return result


def _planned(
    runtime: Runtime, path: Path, selection: Selection, options: ApplyOptions
) -> tuple[Plan, list[DesiredFile] | None]:
    """The plan to apply, and every desired-state file when they were loaded for it (not for a saved plan)."""
    if options.plan_file is None:
        files = load_desired(path, runtime.guardrails())
        return _plan_files(runtime, files, selection, path), files
    planned = select_saved(load_saved_plan(options.plan_file), selection, options.plan_file)
    for source in edited_since(planned):
        runtime.notify(
            f"note: {source} changed since the plan was made; the saved plan is applied as reviewed "
            "(run plan again to include the edit)"
        )
    return planned, None


def _apply_planned(
    runtime: Runtime,
    path: Path,
    selection: Selection,
    planned: Plan,
    files: list[DesiredFile] | None,
    options: ApplyOptions,
    confirm: Callable[[int], None],
    collector: receipt_module.Collector,
) -> ApplyResult:
    if planned.errors:
        raise PlanHasErrors(cannot_plan(planned.errors))
    if options.expect_changes_hash is not None:
        check_reviewed(planned, options.expect_changes_hash, options.reviewed_plan)
    changes = planned.changes
    if not changes:
        return ApplyResult(planned)
    if options.max_changes is not None and len(changes) > options.max_changes:
        raise ApplyRefused(
            f"{len(changes)} memberships would change, more than --max-changes {options.max_changes}; "
            "nothing was applied"
        )
    from .applier import Applier

    with audit_writer(options.audit_log) as audit:

        def sink(record: Mapping[str, Any]) -> None:
            collector(record)
            if audit is not None:
                audit(record)

        applier = Applier(runtime.gateway(), runtime.retrier(), sink, strict=options.plan_file is not None)
        live: Mapping[str, LiveMembership] | None = None
        if options.plan_file is not None:
            problems, live = applier.preflight(changes, runtime.parallelism)
            if problems:
                raise StalePlan(
                    f"the saved plan {options.plan_file} no longer holds; nothing was applied",
                    [f"error: {problem}" for problem in problems],
                )
        # Every path to a write passes here, after the last read and before the first write.
        sliced = options.plan_file is not None or bool(selection.memberships)
        guard(runtime, planned, live or {}, lambda: _census(runtime, path, planned, files, sliced), options.force)
        confirm(len(changes))
        with stop_on_signals(applier, runtime.notify) as stopped, runtime.progress(len(changes), "Applying") as done:
            outcomes = applier.apply(changes, runtime.parallelism, live, done)
    return ApplyResult(planned, tuple(outcomes), stopped.name)


# octoDNS's rule: a share of a small set is noise (1 of 4 is 25%), so the guard starts at ten memberships.
MIN_GUARDED_MEMBERSHIPS = 10


@dataclass(frozen=True)
class Census:
    """What maxChangesPercent is judged on: the whole desired state's size, and for each account/region a
    plan touches, every membership in it and those that would change."""

    desired: int
    members: Mapping[Where, frozenset[str]]
    changing: Mapping[Where, frozenset[str]]


def guard(
    runtime: Runtime,
    planned: Plan,
    live: Mapping[str, LiveMembership],
    census: Callable[[], Census],
    force: bool,
) -> None:
    """reconciler.yaml on the plan about to be written, whichever path made it (a fresh plan, a saved one,
    a --target or --membership slice): the allow-list and the policies on each change's settings as they
    will be, then maxChangesPercent on whole account/regions. Refuses before any write."""
    guardrails, problems = runtime.guardrails()
    if problems:
        raise InvalidDesiredState(problems)
    if guardrails is None:
        return
    refusals = []
    for change in planned.changes:
        found = live.get(change.membershipIdentifier)
        account = change.accountId or (found.accountId if found is not None else None)
        effective = {
            "membershipIdentifier": change.membershipIdentifier,
            "region": change.region,
            **({"accountId": change.accountId} if change.accountId else {}),
            **({"collaborationName": change.collaborationName} if change.collaborationName else {}),
            **change.settings_after(),
        }
        refusals += [
            f"error: {change.source}: membership {change.membershipIdentifier}: {refusal}"
            for refusal in guardrails.refusals(effective, account)
        ]
    if refusals:
        raise ApplyRefused(f"the plan breaks {guardrails.path}; nothing was applied", refusals)
    if guardrails.max_changes_percent is not None:
        _check_blast_radius(runtime, guardrails.max_changes_percent, guardrails.path, census(), force)


def _census(runtime: Runtime, path: Path, planned: Plan, files: list[DesiredFile] | None, sliced: bool) -> Census:
    """The totals of the whole account/regions the plan touches. A fresh plan of whole targets is its own
    census; a slice (--membership, a saved plan) is judged on a fresh read of its targets, counting its
    own changes too, so no way of slicing gets more past the guard than a whole apply would."""
    if files is None:
        files = load_desired(path, runtime.guardrails())
    places = {m.where for m in planned.changes}
    whole = planned
    if sliced:
        resolved, _errors = resolve_regions(files, runtime.default_region())
        inside = [r for r in resolved if r.where in places]
        whole = read_plan(runtime, inside, [], ReadOnly(runtime.gateway()), "Reading memberships (maxChangesPercent)")
    members: dict[Where, set[str]] = {where: set() for where in places}
    changing: dict[Where, set[str]] = {where: set() for where in places}
    for plan in (whole, planned):
        for m in plan.memberships:
            if m.where in places:
                members[m.where].add(m.membershipIdentifier)
                if m.changed:
                    changing[m.where].add(m.membershipIdentifier)
    return Census(
        len(files),
        {where: frozenset(ids) for where, ids in members.items()},
        {where: frozenset(ids) for where, ids in changing.items()},
    )


def _check_blast_radius(runtime: Runtime, percent: int, config: str, census: Census, force: bool) -> None:
    """Refuse when more than `percent` of an account/region's memberships would change, in a desired state
    of at least MIN_GUARDED_MEMBERSHIPS, unless --force."""
    if census.desired < MIN_GUARDED_MEMBERSHIPS:
        return
    for where in sorted(census.members, key=lambda w: w.label):
        total, changing = len(census.members[where]), len(census.changing[where])
        if changing * 100 <= percent * total:
            continue
        counted = f"{changing} of {total} memberships in {where.label}"
        if force:
            runtime.notify(f"note: {counted} change, past maxChangesPercent {percent}; --force")
            continue
        raise ApplyRefused(
            f"{counted} would change ({changing * 100 / total:.0f}%), more than maxChangesPercent {percent} in "
            f"{config}; nothing was applied (check the plan, then apply again with --force if it is meant)"
        )


def check_reviewed(planned: Plan, expected: str, reviewed_plan: Path | None) -> None:
    """The plan must be the one reviewed (dflook's and octoDNS's rule): else nothing is written, and with the
    reviewed plan at hand, the error says which memberships and fields differ."""
    actual = planned.changes_hash()
    if actual == expected:
        return
    details = []
    if reviewed_plan is not None:
        from .publish import read_report

        details = [f"  {line}" for line in planned.differences(read_report(reviewed_plan))]
    raise PlanNotReviewed(
        f"the plan is not the one reviewed: its changes hash is {actual}, the reviewed one {expected}; "
        "nothing was applied (review the new plan, then apply it with its hash)",
        details,
    )


def _write_receipt(
    options: ApplyOptions,
    planned: Plan | None,
    outcomes: Sequence[Outcome],
    collector: receipt_module.Collector,
    result: str,
    message: str,
    started: str,
) -> None:
    if options.receipt is None:
        return
    context = replace(options.context, reviewed_hash=options.expect_changes_hash)
    document = receipt_module.build(context, planned, outcomes, collector.records, result, message, started, _now())
    write_text(options.receipt, json.dumps(document, indent=2) + "\n", "the receipt")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def select_saved(plan: Plan, selection: Selection, plan_file: Path) -> Plan:
    """The saved plan's part that --membership / --target keep; a selection that keeps nothing is an error."""
    chosen = plan.selected(selection)
    unknown = selection.memberships - {m.membershipIdentifier for m in plan.memberships}
    if (selection.memberships or selection.where) and (unknown or not chosen.memberships):
        named = " ".join(f"--membership {m}" for m in sorted(unknown)) if unknown else selection.describe()
        raise NothingSelected(f"{named} selects no membership in the saved plan {plan_file}")
    return chosen


def load_saved_plan(plan_file: Path) -> Plan:
    from ..core import saved

    return saved.read(plan_file)


def edited_since(plan: Plan) -> list[str]:
    """Sources of a saved plan that changed since it was made (those still here to compare).

    Like Terraform's saved plans, the plan is applied as reviewed, not re-read from the files: the note
    keeps that from being a surprise."""
    edited = []
    for change in plan.memberships:
        source = Path(change.source)
        if source.is_file() and hashlib.sha256(source.read_bytes()).hexdigest() != change.desiredSha256:
            edited.append(change.source)
    return edited


@contextmanager
def audit_writer(path: Path | None) -> Iterator[AuditSink | None]:
    """JSON lines appended to `path`, opened before any write: if it cannot be opened, nothing is written."""
    if path is None:
        yield None
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stream = path.open("a", encoding="utf-8")
    except OSError as error:
        raise OutputNotWritable("the audit log", str(path), error) from error
    lock = threading.Lock()

    def write(record: Mapping[str, Any]) -> None:
        with lock:
            stream.write(json.dumps(record, sort_keys=True) + "\n")
            stream.flush()

    with stream:
        yield write


@dataclass
class _Stopped:
    name: str | None = None


@contextmanager
def stop_on_signals(applier: Applier, notify: Notify) -> Iterator[_Stopped]:
    """Ctrl-C / SIGTERM: writes in flight finish, no new write starts, and the report says which is which."""
    stopped = _Stopped()

    def handler(signum: int, _frame: object) -> None:
        stopped.name = signal.Signals(signum).name
        notify(f"\n{stopped.name}: finishing writes in flight, starting no new ones")
        applier.stop.set()

    if threading.current_thread() is not threading.main_thread():
        # Only the main thread may install handlers (an embedding program's worker): run without them.
        yield stopped
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopped
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# -- drift ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftResult:
    report: Plan

    @property
    def status(self) -> ExitStatus:
        if self.report.errors:
            return ExitStatus.ERROR
        return ExitStatus.CHANGES if self.report.changes else ExitStatus.OK

    @property
    def messages(self) -> tuple[str, ...]:
        return (f"{len(self.report.errors)} error(s) while checking drift",) if self.report.errors else ()


def drift(runtime: Runtime, path: Path, selection: Selection, report_unmanaged: bool) -> DriftResult:
    """A plan through a reader with no update method: drift cannot write, and runs under a read-only role."""
    files = load_desired(path, runtime.guardrails())
    chosen = select_files(files, selection, path)
    resolved, errors = resolve(runtime, chosen, selection, path)
    reader = ReadOnly(runtime.gateway())
    report = replace(read_plan(runtime, resolved, errors, reader), target=selection.where)
    if report_unmanaged:
        managed = {f.membership.membershipIdentifier for f in files}
        report = report.with_unmanaged(find_unmanaged(runtime, reader, {r.where for r in resolved}, managed))
    return DriftResult(report)


def find_unmanaged(
    runtime: Runtime, reader: MembershipReader, places: set[Where], managed: set[str]
) -> list[Unmanaged]:
    found: list[Unmanaged] = []
    retrier = runtime.retrier()
    for where in sorted(places):
        found += [
            Unmanaged(s["id"], s.get("collaborationName", ""), where.region, s.get("arn", ""))
            for s in _list_active(reader, where, retrier)
            if s["id"] not in managed and s.get("status", "ACTIVE") == "ACTIVE"
        ]
    return found


def _list_active(reader: MembershipReader, where: Where, retrier: Retrier) -> list[Mapping[str, Any]]:
    from .reader import list_active

    try:
        return list_active(reader, retrier, where)
    except AwsError as error:
        raise AwsCallFailed(f"cannot list memberships in {where}: {error}") from error


# -- targets -------------------------------------------------------------------------------------------


def targets(runtime: Runtime, path: Path) -> list[Where]:
    """The account/region pairs the desired state covers, in a stable order."""
    resolved, errors = resolve_regions(load_desired(path, runtime.guardrails()), runtime.default_region())
    if errors:
        raise PlanHasErrors(f"{len(errors)} file(s) have no region", [f"error: {error}" for error in errors])
    return sorted({r.where for r in resolved}, key=lambda where: where.label)


# -- import --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    out_dir: Path
    total: int
    written: tuple[str, ...] = ()  # one line per file written, updated or kept
    failures: tuple[str, ...] = ()

    @property
    def status(self) -> ExitStatus:
        return ExitStatus.ERROR if self.failures else ExitStatus.OK


def import_memberships(
    runtime: Runtime, memberships: Sequence[str], import_all: bool, out_dir: Path, overwrite: bool
) -> ImportResult:
    """Write desired-state files from live memberships, so a plan right after shows no changes."""
    from ..core import importer
    from .reader import fetch, in_parallel

    if import_all == bool(memberships):
        raise UsageError("choose either --all or --membership ID (repeatable)")
    region = runtime.default_region()
    if region is None:
        raise UsageError("no region: pass --region or configure AWS_DEFAULT_REGION")
    guardrails, problems = runtime.guardrails()
    if problems:
        raise InvalidDesiredState(problems)
    # The files already there, valid, before any call: a broken one would be written over, or a membership it
    # names imported again into a second file.
    existing: dict[str, Path] = {}
    if out_dir.exists():
        present = load(out_dir, guardrails)
        if present.problems:
            raise InvalidDesiredState(present.problems)
        existing = {f.membership.membershipIdentifier: Path(f.path) for f in present.files}
    where = Where(region)
    reader = ReadOnly(runtime.gateway())
    retrier = runtime.retrier()
    ids = list(memberships) or [s["id"] for s in _list_active(reader, where, retrier)]
    written: list[str] = []
    failures: list[str] = []

    def read(membership_id: str) -> LiveMembership | AwsError:
        try:
            return fetch(reader, retrier, where, membership_id)
        except AwsError as error:
            return error

    # Read in parallel, write the files in order: the output reads the same at any parallelism.
    for membership_id, live in zip(ids, in_parallel(ids, read, runtime.parallelism), strict=True):
        if isinstance(live, AwsError):
            failures.append(f"{membership_id}: {live}")
            continue
        if live.status != "ACTIVE":
            failures.append(f"{membership_id}: status is {live.status}; only ACTIVE memberships are imported")
            continue
        target = existing.get(membership_id) or out_dir / importer.file_name(live)
        shared = _shared_defaults(guardrails, target, out_dir)
        if isinstance(shared, str):
            failures.append(f"{membership_id}: {shared}")
            continue
        written.append(_write_imported(live, target, overwrite, shared))
    return ImportResult(out_dir, len(ids), tuple(written), tuple(failures))


def _shared_defaults(guardrails: Guardrails | None, target: Path, out_dir: Path) -> dict[str, Any] | str:
    """What reconciler.yaml's defaults give a file at `target`, or why they cannot be told apart."""
    if guardrails is None:
        return {}
    layers = guardrails.layers(target, out_dir)
    return "; ".join(layers.problems) if layers.problems else layers.under({})


def _write_imported(live: LiveMembership, path: Path, overwrite: bool, shared: Mapping[str, Any]) -> str:
    from ..core import importer

    if path.exists() and not overwrite:
        return f"kept {path}: it exists (--overwrite updates it in place)"
    if path.exists():
        write_text(path, importer.render_update(path.read_text(encoding="utf-8"), live), "the file")
        return f"updated {path}"
    schema = os.path.relpath(Path("schema") / "membership.schema.json", path.parent)
    write_text(path, importer.render_new(live, schema, shared), "the file")
    return f"wrote {path}"
