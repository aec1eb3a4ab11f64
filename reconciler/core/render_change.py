"""One membership's change as lines, shared by the text plan and the Markdown details. Pure: returns strings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .plan import FieldChange, MembershipChange

Style = Callable[[str, str], str]


def _value(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, sort_keys=False)


def field_lines(change: FieldChange, style: Style, indent: str = "    ") -> list[str]:
    # A value the file does not set itself says where it came from (reconciler.yaml's shared defaults).
    origin = "" if change.origin == "file" else f"   # from {change.origin}"
    if not change.leaves:
        if change.before is None:
            return [style(f"{indent}+ {change.name}: {_value(change.after)}{origin}", "green")]
        return [style(f"{indent}~ {change.name}: {_value(change.before)} -> {_value(change.after)}{origin}", "yellow")]
    lines = [style(f"{indent}~ {change.name}:{origin}", "yellow")]
    for leaf in change.leaves:
        if leaf.kind == "added":
            lines.append(style(f"{indent}    + {leaf.path}: {_value(leaf.after)}", "green"))
        elif leaf.kind == "removed":
            lines.append(style(f"{indent}    - {leaf.path}: {_value(leaf.before)}", "red"))
        else:
            lines.append(style(f"{indent}    ~ {leaf.path}: {_value(leaf.before)} -> {_value(leaf.after)}", "yellow"))
    return lines


def heading(membership: MembershipChange) -> str:
    where = f"({membership.source}, {membership.where})"
    if membership.join is not None:
        return f"+ join collaboration {membership.collaborationName} ({membership.join.invited_by}) {where}"
    name = f" {membership.collaborationName}" if membership.collaborationName else ""
    return f"~ membership {membership.membershipIdentifier}{name} {where}"
