"""Apply outcomes -> text (the terminal) or Markdown (the job summary). Pure: returns strings."""

from __future__ import annotations

from collections.abc import Sequence

from .escape import inert
from .outcome import Outcome, Status
from .render import one_line, plain
from .render_change import Style

_OUTCOME_COLOURS = {Status.APPLIED: "green", Status.CONVERGED: "green", Status.NOT_STARTED: "yellow"}
_OUTCOME_ICONS = {Status.APPLIED: ":white_check_mark:", Status.CONVERGED: ":white_check_mark:"}


def _in_order(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return sorted(outcomes, key=lambda o: (o.change.source, o.change.key))


def outcomes_text(outcomes: Sequence[Outcome], style: Style = plain) -> str:
    style = one_line(style)
    lines = [style(o.describe(), _OUTCOME_COLOURS.get(o.status, "red")) for o in _in_order(outcomes)]
    counts = {status: sum(1 for o in outcomes if o.status is status) for status in Status}
    lines.append(
        f"Apply: {counts[Status.APPLIED]} applied, {counts[Status.CONVERGED]} already converged, "
        f"{counts[Status.FAILED] + counts[Status.STALE]} failed, {counts[Status.NOT_STARTED]} not started."
    )
    return "\n".join(lines) + "\n"


def outcomes_markdown(outcomes: Sequence[Outcome]) -> str:
    lines = ["#### Apply result", ""]
    # An outcome carries AWS error messages and file names: inert, like every untrusted value in Markdown.
    lines += [f"- {_OUTCOME_ICONS.get(o.status, ':x:')} {inert(o.describe())}" for o in _in_order(outcomes)]
    return "\n".join(lines) + "\n"
