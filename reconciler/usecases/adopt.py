"""`adopt`: the other way out of drift. Each drifted membership's file is rewritten to the live values (comments
and layout kept, as import does), so a plan right after shows no change; a live value the file cannot hold,
or one reconciler.yaml forbids, is reported and that file is left as it was."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.adopting import adoption
from ..core.api import ReadOnly
from ..core.desired import defaults_base, load_text
from ..core.documents import read_text
from ..core.errors import ExitStatus
from ..core.plan import Selection, describe
from .plan import cannot_plan, read_plan, resolve, select_files, write_text
from .runtime import Runtime
from .validate import load_desired


@dataclass(frozen=True)
class AdoptResult:
    adopted: tuple[str, ...] = ()  # a line per file rewritten
    refused: tuple[str, ...] = ()  # a line per value not written, and why
    errors: tuple[str, ...] = ()  # memberships that could not be read: nothing adopted for them

    @property
    def status(self) -> ExitStatus:
        return ExitStatus.ERROR if self.refused or self.errors else ExitStatus.OK


def adopt(runtime: Runtime, path: Path, selection: Selection) -> AdoptResult:
    from ..core import importer

    config = runtime.guardrails()
    files = load_desired(path, config)
    resolved, errors = resolve(runtime, select_files(files, selection, path), selection, path)
    # Read through a reader that cannot write: adopting changes files, never AWS.
    report = read_plan(runtime, resolved, errors, ReadOnly(runtime.gateway()))
    base = defaults_base(path)
    adopted: list[str] = []
    refused: list[str] = []
    for change in report.changes:
        named = f"{change.source}: {describe(change)}"
        if change.join is not None:
            refused.append(f"{named}: nothing live to adopt: the account has not joined (apply joins it)")
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
        write_text(source, rewritten, "the file")
        adopted.append(f"adopted {named}: {', '.join(found.values)}" + "".join(f"; {n}" for n in found.notes))
    messages = (cannot_plan(report.errors), *(str(e) for e in report.errors)) if report.errors else ()
    return AdoptResult(tuple(adopted), tuple(refused), messages)
