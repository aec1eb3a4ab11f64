"""The plan: value types for what would change, in a stable order, serialisable as CONTRACT.md's JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .api import Where
from .attribution import Attribution
from .invitation import Invitation

FORMAT_VERSION = 1

# The leaves each result configuration's S3 output defaults when left out.
_S3_DEFAULTS: dict[str, dict[str, Any]] = {
    "defaultResultConfiguration": {"keyPrefix": "", "singleFileOutput": False},
    # The service writes job results as CSV when no format is given.
    "defaultJobResultConfiguration": {"keyPrefix": "", "resultFormat": "CSV"},
}
# Fields a file may manage in part: their sub-keys left out keep their live value.
PARTIAL_FIELDS = frozenset({"membershipPaymentConfiguration"})


def covers(live: Any, managed: Any) -> bool:
    """Every leaf of `managed` has the same value in `live`."""
    if isinstance(managed, Mapping):
        return isinstance(live, Mapping) and all(covers(live.get(k), v) for k, v in managed.items())
    return bool(live == managed)


def laid_over(live: Any, managed: Mapping[str, Any]) -> dict[str, Any]:
    """`live` with the leaves of `managed` laid over it: what to send so unmanaged sub-keys keep their value."""
    merged = dict(live) if isinstance(live, Mapping) else {}
    for key, value in managed.items():
        merged[key] = laid_over(merged.get(key), value) if isinstance(value, Mapping) else value
    return merged


def normalize(name: str, value: Any) -> Any:
    """The value with API defaults filled in, so equal settings compare (and hash) equal."""
    if name not in _S3_DEFAULTS or not isinstance(value, Mapping):
        return value
    if not isinstance(value.get("outputConfiguration", {}), Mapping):
        return value  # not a result configuration at all (a saved plan's unchecked `before`): nothing to fill
    output = dict(value.get("outputConfiguration") or {})
    if isinstance(output.get("s3"), Mapping):
        output["s3"] = _S3_DEFAULTS[name] | dict(output["s3"])
    return {**value, "outputConfiguration": output}


class _Flat:
    """A value whose JSON form is its fields, as they are."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = asdict(self)  # type: ignore[call-overload]  # subclasses are dataclasses
        return data


@dataclass(frozen=True)
class LeafChange(_Flat):
    """One nested leaf that differs, by dotted path inside its top-level field."""

    path: str
    before: Any
    after: Any
    # "added", "removed" or "changed": a leaf absent on one side is shown differently from a null.
    kind: str = "changed"


@dataclass(frozen=True)
class FieldChange:
    """A top-level UpdateMembership field: the unit of change. `after` is exactly what would be sent."""

    name: str
    before: Any
    after: Any
    leaves: tuple[LeafChange, ...] = ()
    # For a field a file manages in part (membershipPaymentConfiguration): the managed sub-keys. `after` is
    # then the live value with them laid over it, and a later write lays them over the value it reads.
    managed: Any = None
    # Who set the desired value: "file", or reconciler.yaml's shared defaults ("defaults[0] (partners/**)",
    # "file + defaults[0] (partners/**)"). Shown to reviewers; not part of what the plan does (changesHash).
    origin: str = "file"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"before": self.before, "after": self.after, "origin": self.origin}
        if self.leaves:
            data["leaves"] = [leaf.to_json() for leaf in self.leaves]
        if self.managed is not None:
            data["managed"] = self.managed
        return data


@dataclass(frozen=True)
class MembershipChange:
    membershipIdentifier: str
    source: str
    region: str
    fields: tuple[FieldChange, ...]
    # Hash of the live values of the managed fields the plan was computed from: apply --plan refuses
    # the membership when a fresh read no longer matches.
    fingerprint: str
    desiredSha256: str
    collaborationName: str = ""
    # The account whose role is assumed to reach the membership (the file's accountId guard), if any.
    accountId: str | None = None
    # The live values of every managed field when planned (changed or not), so a later read can tell
    # "changed by someone else" (stale) from "already converged" (or our own earlier write).
    liveSettings: Mapping[str, Any] = field(default_factory=dict)
    # The membership's ARN as this run read it, which tag calls name it by. Never saved: a saved plan's
    # tags go to the ARN its pre-apply read finds, so nothing in the file chooses where a write goes.
    arn: str = field(default="", compare=False)
    # A join: no membership yet (membershipIdentifier is ""); apply creates it in this collaboration.
    join: Invitation | None = None

    @property
    def selected_by(self) -> str:
        """What --membership names it by: the membership id, or for a join the collaboration id."""
        return self.join.collaborationIdentifier if self.join else self.membershipIdentifier

    @property
    def key(self) -> str:
        """What names this change in a plan: the membership id, or for a join `collaboration:ID`."""
        return f"collaboration:{self.join.collaborationIdentifier}" if self.join else self.membershipIdentifier

    @property
    def where(self) -> Where:
        return Where(self.region, self.accountId)

    @property
    def changed(self) -> bool:
        return bool(self.fields) or self.join is not None

    def settings_after(self) -> dict[str, Any]:
        """Every managed field as it will be once this change is written: the live values it was planned
        from, with each changed field's after. What reconciler.yaml's policies judge before any write."""
        return {**self.liveSettings, **{change.name: change.after for change in self.fields}}

    def body(self) -> dict[str, Any]:
        """The UpdateMembership body: only the fields that differ, nested objects whole."""
        return {change.name: change.after for change in self.fields}

    def to_json(self) -> dict[str, Any]:
        return {
            "membershipIdentifier": self.membershipIdentifier,
            "source": self.source,
            "region": self.region,
            "accountId": self.accountId,
            "collaborationName": self.collaborationName,
            "fields": {change.name: change.to_json() for change in self.fields},
            "fingerprint": self.fingerprint,
            "desiredSha256": self.desiredSha256,
            "liveSettings": dict(self.liveSettings),
            **({"join": self.join.to_json()} if self.join else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MembershipChange:
        return cls(
            membershipIdentifier=data["membershipIdentifier"],
            source=data["source"],
            region=data["region"],
            collaborationName=data.get("collaborationName", ""),
            accountId=data.get("accountId"),
            fields=tuple(
                # Nested leaves are not read back: they are derived from before and after (saved.py).
                FieldChange(
                    name, value["before"], value["after"], (), value.get("managed"), value.get("origin", "file")
                )
                for name, value in data["fields"].items()
            ),
            fingerprint=data["fingerprint"],
            desiredSha256=data["desiredSha256"],
            liveSettings=data.get("liveSettings", {}),
            join=Invitation(**data["join"]) if data.get("join") else None,
        )


@dataclass(frozen=True)
class Selection:
    """What --membership and --target keep: memberships by id, and one account and region. Empty keeps all."""

    memberships: frozenset[str] = frozenset()
    where: Where | None = None

    def admits_id(self, membership_id: str) -> bool:
        return not self.memberships or membership_id in self.memberships

    def admits(self, membership_id: str, where: Where) -> bool:
        return self.admits_id(membership_id) and (self.where is None or where == self.where)

    def describe(self) -> str:
        parts = [f"--membership {m}" for m in sorted(self.memberships)]
        return " ".join(parts + ([f"--target {self.where.label}"] if self.where else []))


@dataclass(frozen=True)
class PlanError(_Flat):
    """A membership that cannot be planned: apply then writes nothing at all."""

    membershipIdentifier: str
    source: str
    message: str
    code: str = ""

    def __str__(self) -> str:
        return f"{self.source}: membership {self.membershipIdentifier}: {self.message}"


@dataclass(frozen=True)
class Unmanaged(_Flat):
    """An ACTIVE membership in a covered account and region that no desired-state file manages."""

    membershipIdentifier: str
    collaborationName: str
    region: str
    arn: str


@dataclass(frozen=True)
class Plan:
    memberships: tuple[MembershipChange, ...]
    errors: tuple[PlanError, ...] = ()
    # Only filled by `drift --report-unmanaged`: the memberships and the invitations no file names.
    unmanaged: tuple[Unmanaged, ...] | None = None
    # The account and region a `--target` run covered: how a report names its part of a PR comment.
    target: Where | None = None
    invitations: tuple[Invitation, ...] | None = None
    # Only filled by `drift`: who wrote each drifted membership (CloudTrail), by membership id.
    attribution: Mapping[str, Attribution] | None = None
    # The --membership ids a run was limited to (empty: every file): a report of a few memberships never
    # passes for the whole picture (it closes no drift issue, rewrites no adopt pull request).
    scope: tuple[str, ...] = ()

    @classmethod
    def build(cls, memberships: Sequence[MembershipChange], errors: Sequence[PlanError] = ()) -> Plan:
        return cls(
            tuple(sorted(memberships, key=lambda m: (m.source, m.key))),
            tuple(sorted(errors, key=lambda e: (e.source, e.membershipIdentifier, e.message))),
        )

    def with_errors(self, errors: Sequence[PlanError]) -> Plan:
        return replace(self, errors=Plan.build((), [*self.errors, *errors]).errors)

    def with_unmanaged(self, unmanaged: Sequence[Unmanaged], invitations: Sequence[Invitation] = ()) -> Plan:
        return replace(
            self,
            unmanaged=tuple(sorted(unmanaged, key=lambda u: (u.region, u.arn))),
            invitations=tuple(sorted(invitations, key=lambda i: (i.region, i.accountId or "", i.collaborationName))),
        )

    @property
    def changes(self) -> tuple[MembershipChange, ...]:
        return tuple(m for m in self.memberships if m.changed)

    @property
    def unexpected(self) -> tuple[MembershipChange, ...]:
        """The changes not marked expected by drift's attribution (drift.ignoreChangesBy): what a drift issue
        is opened and kept open for."""
        found = self.attribution or {}
        return tuple(m for m in self.changes if not (a := found.get(m.membershipIdentifier)) or not a.expected)

    @property
    def unchanged(self) -> int:
        return len(self.memberships) - len(self.changes)

    @property
    def total(self) -> int:
        # A membership with several errors is still one membership.
        return len(self.memberships) + len({e.membershipIdentifier for e in self.errors})

    def changes_hash(self) -> str:
        """What the plan would do, and nothing else: for each changed membership its identifier, region and
        account, and each changed field's before and after with API defaults filled in. File names, file
        order, unchanged memberships and unmanaged live fields do not enter it, so a reviewed plan can be
        recognised in a fresh one: equal changes, equal hash; any other change, another hash."""
        changes = sorted(
            (
                {
                    "membershipIdentifier": m.membershipIdentifier,
                    "region": m.region,
                    "accountId": m.accountId,
                    "fields": {
                        f.name: {"before": normalize(f.name, f.before), "after": normalize(f.name, f.after)}
                        for f in m.fields
                    },
                    # Only a join has the key, so every plan hashed before joins existed keeps its hash.
                    **({"join": m.join.collaborationIdentifier} if m.join else {}),
                }
                for m in self.changes
            ),
            key=lambda c: (c["accountId"] or "", c["region"], c["membershipIdentifier"], c.get("join", "")),
        )
        return fingerprint({"changes": changes})

    def differences(self, reviewed: Plan) -> list[str]:
        """How this plan's changes differ from a reviewed plan's, a line per membership (empty: the same)."""

        def fields(plan: Plan) -> dict[str, tuple[MembershipChange, dict[str, tuple[Any, Any]]]]:
            return {
                m.key: (
                    m,
                    {f.name: (normalize(f.name, f.before), normalize(f.name, f.after)) for f in m.fields},
                )
                for m in plan.changes
            }

        now, then = fields(self), fields(reviewed)
        lines = []
        for mid in sorted(now.keys() | then.keys()):
            change, after = now.get(mid, (None, {}))
            was_change, before = then.get(mid, (None, {}))
            known = next(c for c in (change, was_change) if c is not None)
            named, where = describe(known), known.where.label
            if was_change is None:
                lines.append(f"{named} ({where}): not in the reviewed plan; now {_fields(after)}")
            elif change is None:
                lines.append(f"{named} ({where}): reviewed {_fields(before)}; nothing to change now")
            elif change.where != was_change.where or before != after:
                names = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
                reviewed_part = _fields({n: before[n] for n in names if n in before}) or "no change"
                now_part = _fields({n: after[n] for n in names if n in after}) or "no change"
                lines.append(f"{named} ({where}): reviewed {reviewed_part}; now {now_part}")
        return lines

    def summary(self) -> dict[str, int]:
        return {"memberships": self.total, "toChange": len(self.changes), "unchanged": self.unchanged}

    def to_json(self) -> dict[str, Any]:
        return {
            "formatVersion": FORMAT_VERSION,
            "changesHash": self.changes_hash(),
            "changes": [self._change_json(m) for m in self.changes],
            "summary": self.summary(),
            "errors": [e.to_json() for e in self.errors],
            **({} if self.unmanaged is None else {"unmanaged": [u.to_json() for u in self.unmanaged]}),
            **({} if self.invitations is None else {"invitations": [i.to_json() for i in self.invitations]}),
            **({} if self.target is None else {"target": self.target.label}),
            **({"scope": list(self.scope)} if self.scope else {}),
        }

    def _change_json(self, change: MembershipChange) -> dict[str, Any]:
        found = (self.attribution or {}).get(change.membershipIdentifier)
        return {**change.to_json(), **({"attribution": found.to_json()} if found is not None else {})}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        if data.get("formatVersion") != FORMAT_VERSION:
            raise ValueError(f"unsupported plan formatVersion {data.get('formatVersion')!r}")
        plan = cls.build(
            [MembershipChange.from_json(c) for c in data["changes"]],
            [PlanError(**e) for e in data.get("errors", ())],
        )
        unmanaged, invitations = data.get("unmanaged"), data.get("invitations")
        attributed = {c["membershipIdentifier"]: c["attribution"] for c in data["changes"] if c.get("attribution")}
        return replace(
            plan,
            unmanaged=None if unmanaged is None else tuple(Unmanaged(**u) for u in unmanaged),
            invitations=None if invitations is None else tuple(Invitation(**i) for i in invitations),
            attribution={m: Attribution.from_json(a) for m, a in attributed.items()} or None,
            target=Where.parse(data["target"]) if data.get("target") else None,
            scope=tuple(data.get("scope") or ()),
        )

    def made_for(self, selection: Selection) -> Plan:
        """The report of a run with this --target and --membership: it says which part it covers."""
        return replace(self, target=selection.where, scope=tuple(sorted(selection.memberships)))

    def selected(self, selection: Selection) -> Plan:
        kept = [m for m in self.memberships if selection.admits(m.selected_by, m.where)]
        return replace(self, memberships=tuple(kept))


def describe(change: MembershipChange) -> str:
    """How messages name a change: `membership ID`, or for a join `the join of collaboration NAME (ID)`."""
    if change.join is None:
        return f"membership {change.membershipIdentifier}"
    return f"the join of collaboration {change.join.collaborationName!r} ({change.join.collaborationIdentifier})"


def _fields(changes: Mapping[str, tuple[Any, Any]]) -> str:
    return ", ".join(
        f"{name} {json.dumps(before, sort_keys=True)} -> {json.dumps(after, sort_keys=True)}"
        for name, (before, after) in sorted(changes.items())
    )


def fingerprint(values: Mapping[str, Any]) -> str:
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
