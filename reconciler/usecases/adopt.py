"""`adopt`: the other way out of drift. Each drifted membership's file is rewritten to the live values (comments
and layout kept, as import does), so a plan right after shows no change; a live value the file cannot hold,
or one reconciler.yaml forbids, is reported and that file is left as it was.

The live values come from a fresh read (`reconciler adopt`) or from the drift reports a workflow's jobs made
(`reconciler github adopt-pr`, which must not hold AWS credentials while it writes to git); either way the
rewrite is the same, and checked the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.adopting import adoption
from ..core.api import ReadOnly
from ..core.desired import DesiredFile, defaults_base, load_text
from ..core.documents import read_text
from ..core.errors import ExitStatus
from ..core.plan import Plan, Selection, describe
from .plan import cannot_plan, read_plan, resolve, select_files, write_text
from .runtime import ConfigResult, Runtime
from .validate import load_desired


@dataclass(frozen=True)
class Rewrite:
    source: str  # the file, as the desired state names it
    text: str  # its new text


@dataclass(frozen=True)
class AdoptResult:
    adopted: tuple[str, ...] = ()  # a line per file rewritten
    refused: tuple[str, ...] = ()  # a line per value not written, and why
    errors: tuple[str, ...] = ()  # memberships that could not be read: nothing adopted for them
    rewrites: tuple[Rewrite, ...] = ()

    @property
    def status(self) -> ExitStatus:
        return ExitStatus.ERROR if self.refused or self.errors else ExitStatus.OK


def adopt(runtime: Runtime, path: Path, selection: Selection) -> AdoptResult:
    """Read the selected memberships (through a reader that cannot write: adopting changes files, never
    AWS) and rewrite their files."""
    config = runtime.guardrails()
    files = load_desired(path, config)
    resolved, errors = resolve(runtime, select_files(files, selection, path), selection, path)
    report = read_plan(runtime, resolved, errors, ReadOnly(runtime.gateway()))
    result = adoptions(path, files, config, [report])
    for rewrite in result.rewrites:
        write_text(Path(rewrite.source), rewrite.text, "the file")
    return result


def adopt_reports(runtime: Runtime, path: Path, reports: Sequence[Plan]) -> AdoptResult:
    """The rewrites the drift reports call for, written nowhere: no AWS call, the files as they are now."""
    config = runtime.guardrails()
    return adoptions(path, load_desired(path, config), config, reports)


def adoptions(path: Path, files: Sequence[DesiredFile], config: ConfigResult, reports: Sequence[Plan]) -> AdoptResult:
    """Each drifted file's new text, checked like any file (model, allow-list, policies) before it is offered."""
    from ..core import importer

    known = {f.path for f in files}
    base = defaults_base(path)
    adopted: list[str] = []
    refused: list[str] = []
    rewrites: list[Rewrite] = []
    for change in (c for report in reports for c in report.changes):
        named = f"{change.source}: {describe(change)}"
        if change.join is not None:
            refused.append(f"{named}: nothing live to adopt: the account has not joined (apply joins it)")
            continue
        if change.source not in known:
            # A report names its files: only a file of this desired state is written.
            refused.append(f"{named}: not adopted: {change.source} is not a file under {path}")
            continue
        found = adoption(change)
        refused += [f"{named}: not adopted: {reason}" for reason in found.refused]
        if not found.values:
            continue
        source = Path(change.source)
        _raw, text, problems = read_text(source)
        if text is None:
            refused += [f"{named}: not adopted: {problem}" for problem in problems]
            continue
        rewritten = importer.render_adopted(text, found.values)
        _loaded, problems = load_text(source, rewritten.encode(), rewritten, None, config[0], base)
        if problems:
            # A policy forbids the live value, or the file cannot hold it: the file stays as it was.
            refused += [f"{named}: not adopted, the live values would break the file: {p}" for p in problems]
            continue
        rewrites.append(Rewrite(change.source, rewritten))
        adopted.append(f"adopted {named}: {', '.join(found.values)}" + "".join(f"; {n}" for n in found.notes))
    errors = [e for report in reports for e in report.errors]
    messages = (cannot_plan(errors), *(str(e) for e in errors)) if errors else ()
    return AdoptResult(tuple(adopted), tuple(refused), messages, tuple(rewrites))
