"""Adopting live values into the desired state (`reconciler adopt`): for each drifted field, the value the
file must hold so that a plan shows no change, or why the file cannot hold it. Pure: no AWS, no files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .plan import MembershipChange


@dataclass(frozen=True)
class Adoption:
    """What to write into one file: each drifted field's live value, what the writing overrides, and the
    fields whose live value no file can hold."""

    values: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()


def adoption(change: MembershipChange) -> Adoption:
    values: dict[str, Any] = {}
    notes: list[str] = []
    refused: list[str] = []
    for f in change.fields:
        value = f.before if f.managed is None else _picked(f.before, f.managed)
        if value is None or _has_gap(value):
            # Absent live (a result configuration never set, a payment sub-key the service does not return):
            # a file cannot say "none", only stop managing the key.
            refused.append(f"{f.name}: the membership has no live value for it; leave the key out to stop managing it")
            continue
        values[f.name] = value
        if f.origin != "file":
            notes.append(f"{f.name} came from {f.origin} in reconciler.yaml: the live value is written into the file")
    return Adoption(values, tuple(notes), tuple(refused))


def _picked(live: Any, managed: Mapping[str, Any]) -> dict[str, Any]:
    """The live value at each leaf the file manages (None where live has none)."""
    found = live if isinstance(live, Mapping) else {}
    return {
        key: _picked(found.get(key), value) if isinstance(value, Mapping) else found.get(key)
        for key, value in managed.items()
    }


def _has_gap(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_gap(item) for item in value.values())
    return value is None
