"""Plan -> text (terraform-like), Markdown (a PR comment) or JSON (CONTRACT.md). Pure: returns strings.

The same plan reads as a plan ("to change") or as a drift report ("drifted"): only the words differ.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .applier import Outcome, Status
from .plan import FieldChange, MembershipChange, Plan

Style = Callable[[str, str], str]
Link = Callable[[str], str] | None


@dataclass(frozen=True)
class Words:
    noun: str
    title: str
    changed: str
    same: str
    nothing: str


PLAN = Words("Plan", "Clean Rooms plan", "to change", "unchanged", "No changes. Live settings match the desired state.")
DRIFT = Words("Drift", "Clean Rooms drift", "drifted", "in sync", "No drift. Live settings match the desired state.")


def plain(text: str, _colour: str) -> str:
    return text


def summary_line(plan: Plan, words: Words = PLAN) -> str:
    s = plan.summary()
    line = (
        f"{words.noun}: {s['memberships']} memberships, {s['toChange']} {words.changed}, {s['unchanged']} {words.same}"
    )
    return line + (f", {len(plan.errors)} error(s)." if plan.errors else ".")


def _value(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, sort_keys=False)


def _field_lines(change: FieldChange, style: Style, indent: str = "    ") -> list[str]:
    if not change.leaves:
        if change.before is None:
            return [style(f"{indent}+ {change.name}: {_value(change.after)}", "green")]
        return [style(f"{indent}~ {change.name}: {_value(change.before)} -> {_value(change.after)}", "yellow")]
    lines = [style(f"{indent}~ {change.name}:", "yellow")]
    for leaf in change.leaves:
        if leaf.kind == "added":
            lines.append(style(f"{indent}    + {leaf.path}: {_value(leaf.after)}", "green"))
        elif leaf.kind == "removed":
            lines.append(style(f"{indent}    - {leaf.path}: {_value(leaf.before)}", "red"))
        else:
            lines.append(style(f"{indent}    ~ {leaf.path}: {_value(leaf.before)} -> {_value(leaf.after)}", "yellow"))
    return lines


def _heading(membership: MembershipChange) -> str:
    name = f" {membership.collaborationName}" if membership.collaborationName else ""
    return f"~ membership {membership.membershipIdentifier}{name} ({membership.source}, {membership.where})"


def text(plan: Plan, style: Style = plain, words: Words = PLAN) -> str:
    lines: list[str] = []
    for membership in plan.changes:
        lines.append(style(_heading(membership), "yellow"))
        for change in membership.fields:
            lines.extend(_field_lines(change, style))
        lines.append("")
    for error in plan.errors:
        lines.append(style(f"! {error}", "red"))
    if plan.errors:
        lines.append("")
    if plan.unmanaged is not None:
        lines.append(f"Unmanaged: {len(plan.unmanaged)} ACTIVE membership(s) no file manages")
        lines += [f"? {u.membershipIdentifier} {u.collaborationName} ({u.region})" for u in plan.unmanaged]
        lines.append("")
    if not plan.changes and not plan.errors:
        lines.append(words.nothing)
    lines.append(summary_line(plan, words))
    return "\n".join(lines) + "\n"


def markdown(plan: Plan, link: Link = None, words: Words = PLAN) -> str:
    s = plan.summary()
    out = [
        f"### {words.title}: {s['toChange']} {words.changed}, {s['unchanged']} {words.same} "
        f"({s['memberships']} memberships)",
        "",
    ]
    if plan.errors:
        out += ["**Errors** (nothing will be applied until these are fixed):", ""]
        out += [
            f"- :x: `{e.membershipIdentifier}` in {_source(e.source, link)}: {inert(e.message)}" for e in plan.errors
        ]
        out.append("")
    if plan.changes:
        out += _changes_markdown(plan.changes, link)
    elif not plan.errors:
        out += [words.nothing, ""]
    if plan.unmanaged is not None:
        out += [f"**Unmanaged**: {len(plan.unmanaged)} ACTIVE membership(s) no file manages", ""]
        out += [f"- `{u.membershipIdentifier}` {inert(u.collaborationName)} ({u.region})" for u in plan.unmanaged]
    return "\n".join(out).rstrip() + "\n"


def _changes_markdown(changes: Sequence[MembershipChange], link: Link) -> list[str]:
    out = ["| membership | collaboration | file | account/region | fields |", "|---|---|---|---|---|"]
    for m in changes:
        names = ", ".join(f"`{f.name}`" for f in m.fields)
        out.append(
            f"| `{m.membershipIdentifier}` | {inert(m.collaborationName)} | {_source(m.source, link)} "
            f"| {inert(str(m.where))} | {names} |"
        )
    out.append("")
    for m in changes:
        out += [
            f"<details><summary><code>{m.membershipIdentifier}</code> {inert(m.collaborationName)}: "
            f"{len(m.fields)} field(s)</summary>",
            "",
            "```diff",
            *(line for change in m.fields for line in _field_lines(change, plain, indent="")),
            "```",
            "</details>",
            "",
        ]
    return out


def _source(path: str, link: Link) -> str:
    # A file name comes from a pull request: shown inert, and linked by a quoted URL.
    shown = f"<code>{inert(path)}</code>"
    return f"[{shown}]({link(quote(path))})" if link else shown


# Characters that can start Markdown or HTML syntax mid-line, or split a table cell (inert text never starts
# a line, so list and heading markers are safe; parentheses form a link only after `]`, which is escaped).
# As numeric references they show as themselves, and GitHub never reads them as structure.
_SYNTAX = frozenset("\\`*_{}[]#+!|~<>&\"'")


def inert(text: str) -> str:
    """Text that did not come from this tool (collaboration names, live values, error messages, file names),
    made inert for a PR comment or issue: it cannot add table cells, open or close HTML, embed images or
    links, or mention anyone (a zero-width space after `@`, as Dependabot does)."""
    out = []
    for char in text:
        if char in "\r\n":
            out.append(" ")
        elif char == "@":
            out.append("@&#8203;")
        elif char in _SYNTAX:
            out.append(f"&#{ord(char)};")
        else:
            out.append(char)
    return "".join(out)


def render(plan: Plan, fmt: str, style: Style = plain, link: Link = None, words: Words = PLAN) -> str:
    if fmt == "json":
        return plan.dumps()
    if fmt == "markdown":
        return markdown(plan, link, words)
    return text(plan, style, words)


# -- apply outcomes ------------------------------------------------------------------------------------

_OUTCOME_COLOURS = {Status.APPLIED: "green", Status.CONVERGED: "green", Status.NOT_STARTED: "yellow"}
_OUTCOME_ICONS = {Status.APPLIED: ":white_check_mark:", Status.CONVERGED: ":white_check_mark:"}


def _in_order(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return sorted(outcomes, key=lambda o: (o.change.source, o.change.membershipIdentifier))


def outcomes_text(outcomes: Sequence[Outcome], style: Style = plain) -> str:
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
