"""Plan -> text (terraform-like), Markdown (a PR comment) or JSON (CONTRACT.md). Pure: returns strings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .plan import FieldChange, MembershipChange, Plan

Style = Callable[[str, str], str]
MARKDOWN_INLINE_LIMIT = 60


def plain(text: str, _colour: str) -> str:
    return text


def summary_line(plan: Plan, noun: str = "Plan") -> str:
    s = plan.summary()
    line = f"{noun}: {s['memberships']} memberships, {s['toChange']} to change, {s['unchanged']} unchanged"
    return line + (f", {len(plan.errors)} error(s)." if plan.errors else ".")


def _value(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, sort_keys=False)


def _field_lines(change: FieldChange, style: Style) -> list[str]:
    if not change.leaves:
        if change.before is None:
            return [style(f"    + {change.name}: {_value(change.after)}", "green")]
        return [style(f"    ~ {change.name}: {_value(change.before)} -> {_value(change.after)}", "yellow")]
    lines = [style(f"    ~ {change.name}:", "yellow")]
    for leaf in change.leaves:
        if leaf.kind == "added":
            lines.append(style(f"        + {leaf.path}: {_value(leaf.after)}", "green"))
        elif leaf.kind == "removed":
            lines.append(style(f"        - {leaf.path}: {_value(leaf.before)}", "red"))
        else:
            lines.append(style(f"        ~ {leaf.path}: {_value(leaf.before)} -> {_value(leaf.after)}", "yellow"))
    return lines


def _heading(membership: MembershipChange) -> str:
    name = f" {membership.collaborationName}" if membership.collaborationName else ""
    return f"~ membership {membership.membershipIdentifier}{name} ({membership.source}, {membership.region})"


def text(plan: Plan, style: Style = plain, noun: str = "Plan") -> str:
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
    if not plan.changes and not plan.errors:
        lines.append("No changes. Live settings match the desired state.")
    lines.append(summary_line(plan, noun))
    return "\n".join(lines) + "\n"


def markdown(plan: Plan, link: Callable[[str], str] | None = None, title: str = "Clean Rooms plan") -> str:
    s = plan.summary()
    out = [
        f"### {title}: {s['toChange']} to change, {s['unchanged']} unchanged ({s['memberships']} memberships)",
        "",
    ]
    if plan.errors:
        out += ["**Errors** (nothing will be applied until these are fixed):", ""]
        out += [f"- :x: `{e.membershipIdentifier}` in {_source(e.source, link)}: {e.message}" for e in plan.errors]
        out.append("")
    if not plan.changes:
        out.append("No changes. Live settings match the desired state." if not plan.errors else "")
        return "\n".join(out).rstrip() + "\n"
    out += ["| membership | collaboration | file | region | fields |", "|---|---|---|---|---|"]
    for m in plan.changes:
        names = ", ".join(f"`{f.name}`" for f in m.fields)
        out.append(
            f"| `{m.membershipIdentifier}` | {m.collaborationName} | {_source(m.source, link)} | {m.region} | {names} |"
        )
    out.append("")
    for m in plan.changes:
        out += [
            f"<details><summary><code>{m.membershipIdentifier}</code> {m.collaborationName}: "
            f"{len(m.fields)} field(s)</summary>",
            "",
            "```diff",
            *(line.replace("    ", "", 1) for change in m.fields for line in _field_lines(change, plain)),
            "```",
            "</details>",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


def _source(path: str, link: Callable[[str], str] | None) -> str:
    return f"[`{path}`]({link(path)})" if link else f"`{path}`"


def as_json(plan: Plan) -> str:
    return plan.dumps()


def render(plan: Plan, fmt: str, style: Style = plain, link: Callable[[str], str] | None = None) -> str:
    if fmt == "json":
        return as_json(plan)
    if fmt == "markdown":
        return markdown(plan, link)
    return text(plan, style)
