"""Who changed a drifted membership: its write events in CloudTrail (LookupEvents), told apart by principal,
time, source and client, with this tool's own writes marked. Pure: the events come in as CloudTrail returns
them, and are read defensively (which fields name the membership is not documented for Clean Rooms)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

# This tool's user agent (edges/aws/client.py): its own writes are told from everyone else's by it.
OUR_AGENT = "cleanrooms-reconciler"
# The most recent writes shown per membership.
SHOWN = 3
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_IDENTIFIERS = frozenset({"membershipIdentifier", "resourceArn", "collaborationIdentifier"})


@dataclass(frozen=True)
class Write:
    """One write to a membership, as CloudTrail recorded it."""

    event: str
    at: str
    principal: str
    session: str | None
    source: str
    via: str
    fields: tuple[str, ...]
    ours: bool

    def __str__(self) -> str:
        session = f" (session {self.session})" if self.session else ""
        who = "this tool" if self.ours else f"{self.principal}{session}"
        fields = f": {', '.join(self.fields)}" if self.fields else ""
        return f"{self.event} by {who} at {self.at} from {self.source} via {self.via}{fields}"

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "at": self.at,
            "principal": self.principal,
            "session": self.session,
            "source": self.source,
            "via": self.via,
            "fields": list(self.fields),
            "ours": self.ours,
        }


@dataclass(frozen=True)
class Attribution:
    """A drifted membership's most recent writes, newest first; or why they are unknown."""

    writes: tuple[Write, ...] = ()
    unknown: str | None = None
    # The drift.ignoreChangesBy globs every write matched: expected drift, which opens no issue.
    expected: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        if self.unknown is not None:
            return [f"changed by: unknown ({self.unknown})"]
        if not self.writes:
            return ["changed by: no write to it in CloudTrail's window (an older change, or one CloudTrail missed)"]
        lines = [f"changed by: {write}" for write in self.writes]
        if self.expected:
            listed = ", ".join(self.expected)
            lines.append(f"expected: every write is by a principal drift.ignoreChangesBy lists ({listed})")
        return lines

    def judged(self, ignored: Sequence[str]) -> Attribution:
        """Expected when every write found is by a principal one of `ignored` matches: judged on who wrote
        it, never on the value, and never when who is unknown."""
        matched = [next((g for g in ignored if fnmatchcase(w.principal, g)), None) for w in self.writes]
        if not self.writes or None in matched:
            return self
        return replace(self, expected=tuple(sorted({g for g in matched if g is not None})))

    def to_json(self) -> dict[str, Any]:
        return {"writes": [w.to_json() for w in self.writes], "unknown": self.unknown, "expected": list(self.expected)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attribution:
        writes = tuple(
            Write(
                str(w.get("event", "")),
                str(w.get("at", "")),
                str(w.get("principal", "")),
                w.get("session"),
                str(w.get("source", "")),
                str(w.get("via", "")),
                tuple(str(f) for f in w.get("fields", ())),
                bool(w.get("ours")),
            )
            for w in data.get("writes", ())
            if isinstance(w, Mapping)
        )
        return cls(writes, data.get("unknown"), tuple(str(g) for g in data.get("expected", ())))


def attribute(events: Iterable[Mapping[str, Any]], memberships: set[str]) -> dict[str, Attribution]:
    """For each membership in `memberships`, its most recent write events among `events` (newest first, as
    LookupEvents returns them); a membership no event names gets an empty attribution."""
    found: dict[str, list[Write]] = {m: [] for m in memberships}
    for event in events:
        if str(event.get("ReadOnly", "false")).lower() == "true":
            continue
        raw = event.get("CloudTrailEvent")
        detail = _parsed(raw)
        named = set(_UUID.findall(json.dumps(event.get("Resources") or []) + (raw if isinstance(raw, str) else "")))
        for membership in named & memberships:
            if len(found[membership]) < SHOWN:
                found[membership].append(_write(event, detail))
    return {membership: Attribution(tuple(writes)) for membership, writes in found.items()}


def _parsed(raw: Any) -> dict[str, Any]:
    try:
        detail = json.loads(raw) if isinstance(raw, str) else {}
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _write(event: Mapping[str, Any], detail: Mapping[str, Any]) -> Write:
    identity = _mapping(detail.get("userIdentity"))
    principal = str(identity.get("arn") or event.get("Username") or "unknown principal")
    session = principal.rsplit("/", 1)[-1] if ":assumed-role/" in principal else None
    agent = str(detail.get("userAgent") or "")
    parameters = _mapping(detail.get("requestParameters"))
    when = event.get("EventTime") or detail.get("eventTime") or ""
    return Write(
        event=str(event.get("EventName") or detail.get("eventName") or "unknown event"),
        at=when.isoformat() if hasattr(when, "isoformat") else str(when),
        principal=principal,
        session=session,
        source=str(detail.get("sourceIPAddress") or "unknown source"),
        via=_via(agent),
        fields=tuple(sorted(k for k in parameters if k not in _IDENTIFIERS)),
        ours=OUR_AGENT in agent,
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _via(agent: str) -> str:
    if OUR_AGENT in agent:
        return "this tool"
    if not agent or "console" in agent.lower() or agent == "AWS Internal":
        return "the console"
    return f"an SDK or the CLI ({agent.split(maxsplit=1)[0][:60]})"
