"""`apply`: plan (or load the saved plan), show it, check it is the one reviewed, pass the guard, confirm,
write; a receipt and an audit log of what was written, and Ctrl-C / SIGTERM that stop new writes only."""

from __future__ import annotations

import hashlib
import json
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import receipt as receipt_module
from ..core.desired import DesiredFile
from ..core.errors import (
    ApplyRefused,
    ExitStatus,
    NothingSelected,
    OutputNotWritable,
    PlanHasErrors,
    PlanNotReviewed,
    ReconcilerError,
    StalePlan,
    Terminated,
)
from ..core.plan import Plan, Selection
from .guard import census, guard
from .plan import cannot_plan, plan_files, write_text
from .runtime import Notify, Runtime
from .validate import load_desired

if TYPE_CHECKING:
    from ..core.models import LiveMembership
    from ..core.outcome import Outcome
    from .applier import Applier, AuditSink


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
        return plan_files(runtime, files, selection, path), files
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
        guard(runtime, planned, live or {}, lambda: census(runtime, path, planned, files, sliced), options.force)
        confirm(len(changes))
        with stop_on_signals(applier, runtime.notify) as stopped, runtime.progress(len(changes), "Applying") as done:
            outcomes = applier.apply(changes, runtime.parallelism, live, done)
    return ApplyResult(planned, tuple(outcomes), stopped.name)


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
    unknown = selection.memberships - {m.selected_by for m in plan.memberships}
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
