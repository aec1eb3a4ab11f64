"""Reading a saved plan (`plan --out`) for `apply --plan`: checked like desired state, before any call.

A saved plan is input like a desired-state file: it may have been edited, truncated or produced by another
version. Its shape is checked strictly, and every value it would send (`after`) goes through the same model
as `validate`, so nothing the desired state could not hold is ever written. Pure: no AWS, no printing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .documents import MAX_DEPTH, explain, shape_problem, too_deep
from .errors import InvalidSavedPlan
from .joining import JOIN_ONLY_FIELDS
from .models import MANAGED_FIELDS, AccountId, CollaborationId, DesiredMembership, MembershipId, Region
from .plan import PARTIAL_FIELDS, FieldChange, MembershipChange, Plan, laid_over
from .planner import leaves, live_fingerprint, same

# A plan of 10,000 memberships with every field changed holds about a million values.
MAX_PLAN_VALUES = 5_000_000
_USUAL = ("a plan is a few levels deep", "a plan of 10,000 memberships holds about a million")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _SavedField(_Closed):
    before: Any = None
    after: Any
    leaves: list[dict[str, Any]] = []
    managed: dict[str, Any] | None = None
    origin: str = "file"


class _SavedJoin(_Closed):
    collaborationIdentifier: CollaborationId
    collaborationName: str
    creatorAccountId: str
    creatorDisplayName: str
    region: Region
    accountId: AccountId | None = None
    invitedAt: str = ""


class _SavedChange(_Closed):
    # Empty for a join: there is no membership until apply creates it.
    membershipIdentifier: MembershipId | Literal[""]
    source: str
    region: Region
    accountId: AccountId | None = None
    collaborationName: str = ""
    fields: dict[str, _SavedField] = Field(min_length=1)
    fingerprint: str
    desiredSha256: str
    liveSettings: dict[str, Any] = {}
    join: _SavedJoin | None = None
    # A drift report's: who wrote the membership. Shown, never sent.
    attribution: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        return self.membershipIdentifier or f"collaboration:{self.join.collaborationIdentifier if self.join else ''}"


class _SavedPlan(_Closed):
    formatVersion: Literal[1]
    changes: list[_SavedChange]
    summary: dict[str, int] | None = None
    errors: list[Any] = Field(default=[], max_length=0)
    unmanaged: list[Any] | None = None
    invitations: list[Any] | None = None
    changesHash: str | None = None
    target: str | None = None
    scope: list[str] | None = None

    @field_validator("formatVersion", mode="before")
    @classmethod
    def _not_a_bool(cls, value: object) -> object:
        # Python's True == 1, and so does pydantic's Literal[1]: a bool is not a version.
        return str(value).lower() if isinstance(value, bool) else value


class _Error(_Closed):
    membershipIdentifier: str
    source: str
    message: str
    code: str = ""


class _Unmanaged(_Closed):
    membershipIdentifier: str
    collaborationName: str
    region: str
    arn: str


class _Report(_SavedPlan):
    """A plan or drift report (`--format json`): a saved plan's shape, with errors and unmanaged allowed."""

    errors: list[_Error] = []
    unmanaged: list[_Unmanaged] | None = None
    invitations: list[_SavedJoin] | None = None


_SHAPES = {
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "list_type": "must be a list",
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


class _ReceiptMembership(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    outcome: str


class _Receipt(BaseModel):
    """What `github apply-report` reads of a receipt (receipt.py writes more)."""

    model_config = ConfigDict(extra="allow", strict=True)
    target: str
    result: str
    memberships: list[_ReceiptMembership]


def read_receipt(path: Path) -> dict[str, Any]:
    """An apply receipt (`apply --receipt`), its shape checked; one that is not is an error naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise InvalidSavedPlan(f"cannot read the receipt {path}: {exc}") from exc
    unsound = shape_problem(data, limit=MAX_PLAN_VALUES, usual=_USUAL)
    if unsound is not None:
        raise InvalidSavedPlan(f"{path} is not an apply receipt: {unsound}")
    try:
        _Receipt.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        problem = f"{_where(first['loc'])}: {_SHAPES.get(first['type'], first['msg'])}"
        raise InvalidSavedPlan(f"{path} is not an apply receipt: {problem}") from exc
    return dict(data)


def _shaped(text: str, shape: type[_SavedPlan]) -> tuple[dict[str, Any], _SavedPlan | None, list[str]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        return {}, None, [f"the top level: not JSON: {exc}"]
    except RecursionError:  # json's decoder recurses per level: only data nested far past MAX_DEPTH gets here
        return {}, None, [f"the top level: {too_deep(MAX_DEPTH, _USUAL[0])}"]
    unsound = shape_problem(data, limit=MAX_PLAN_VALUES, usual=_USUAL)
    if unsound is not None:
        return {}, None, [f"the top level: {unsound}"]
    if not isinstance(data, dict):
        return {}, None, ["the top level: must be an object with formatVersion and changes"]
    try:
        return data, shape.model_validate(data), []
    except ValidationError as exc:
        return {}, None, [f"{_where(err['loc'])}: {_SHAPES.get(err['type'], err['msg'])}" for err in exc.errors()]


def parse(text: str) -> tuple[Plan | None, list[str]]:
    """The plan, or every problem as `WHERE: message` (WHERE a path like changes[0].fields.NAME.after...)."""
    data, saved, problems = _shaped(text, _SavedPlan)
    if saved is None:
        return None, problems
    problems = _values(saved) + _hashed_only(saved)
    if problems:
        return None, problems
    plan = _shown_as_hashed(Plan.from_json(data))
    if saved.changesHash is not None and saved.changesHash != plan.changes_hash():
        return None, [f"changesHash: {saved.changesHash} is not the hash of the changes listed (the plan was edited)"]
    return plan, []


def parse_report(text: str) -> tuple[Plan | None, list[str]]:
    """A plan or drift report for rendering (`reconciler render`, `reconciler github ...`): its shape is
    checked like a saved plan's, its values are shown, never sent, so they are not checked."""
    data, report, problems = _shaped(text, _Report)
    if report is None:
        return None, problems
    try:
        return _shown_as_hashed(Plan.from_json(data)), []
    except ValueError as exc:  # a target that is not ACCOUNT/REGION
        return None, [f"target: {exc}"]


def _values(saved: _SavedPlan) -> list[str]:
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, change in enumerate(saved.changes):
        at = f"changes[{index}]"
        first = seen.setdefault(change.key, index)
        if first != index:
            join = change.join
            label = f"the join of collaboration {join.collaborationIdentifier}" if join else f"membership {change.key}"
            problems.append(f"{at}: {label} is already planned in changes[{first}]")
        problems += _join_problems(at, change)
        settable = (*MANAGED_FIELDS, *JOIN_ONLY_FIELDS) if change.join else MANAGED_FIELDS
        unknown = [name for name in change.fields if name not in settable]
        problems += [f"{at}.fields.{name}: not a field UpdateMembership or tagging can change" for name in unknown]
        after = {name: f.after for name, f in change.fields.items() if name not in unknown}
        named = (
            {"collaborationIdentifier": change.join.collaborationIdentifier}
            if change.join
            else {"membershipIdentifier": change.membershipIdentifier}
        )
        try:
            DesiredMembership.model_validate({**named, **after})
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                problems.append(f"{at}.fields.{loc[0]}.after{_where(loc[1:], dotted=True)}: {explain(loc, err)}")
    return problems


def _join_problems(at: str, change: _SavedChange) -> list[str]:
    """A join is a join everywhere: no membership id, its place the change's, every setting new."""
    join = change.join
    if join is None:
        return [] if change.membershipIdentifier else [f"{at}.membershipIdentifier: empty only in a join"]
    problems = []
    if change.membershipIdentifier:
        problems.append(f"{at}.membershipIdentifier: a join has no membership yet: must be empty")
    if (join.region, join.accountId) != (change.region, change.accountId) or change.accountId is None:
        problems.append(f"{at}.join: must be in the change's region and account (and a join names its account)")
    if "queryLogStatus" not in change.fields:
        problems.append(f"{at}.fields.queryLogStatus: a join must set it (CreateMembership requires it)")
    if change.liveSettings:
        problems.append(f"{at}.liveSettings: a join is planned from no membership: must be empty")
    problems += [
        f"{at}.fields.{name}.before: a join creates the membership: must be absent"
        for name, field in change.fields.items()
        if field.before is not None
    ]
    return problems


def _hashed_only(saved: _SavedPlan) -> list[str]:
    """Every key of a change that would shape a request or a staleness check must follow from what
    `changesHash` covers (each field's before and after): a saved plan carries data, not instructions."""
    problems: list[str] = []
    for index, change in enumerate(saved.changes):
        at = f"changes[{index}]"
        for name, field in change.fields.items():
            if field.managed is None:
                continue
            if name not in PARTIAL_FIELDS:
                problems.append(
                    f"{at}.fields.{name}.managed: only {', '.join(sorted(PARTIAL_FIELDS))} is managed by sub-key; "
                    "this field is sent as its after"
                )
            elif laid_over(field.before, field.managed) != field.after:
                problems.append(
                    f"{at}.fields.{name}.managed: must be part of after: laid over before, it must give exactly "
                    "after (what the changes hash covers and the plan shows)"
                )
        for name, field in change.fields.items():
            if change.join is None and (
                name not in change.liveSettings or not same(name, change.liveSettings[name], field.before)
            ):
                problems.append(
                    f"{at}.liveSettings.{name}: must equal the field's before (the live value it was planned from)"
                )
        if live_fingerprint(change.liveSettings) != change.fingerprint:
            problems.append(f"{at}.fingerprint: is not the hash of liveSettings (the plan was edited)")
    return problems


def _shown_as_hashed(plan: Plan) -> Plan:
    """The plan with each field's nested leaves derived from its before and after, never taken from the
    file: what a reviewer reads is what the hash covers."""

    def derived(change: MembershipChange) -> MembershipChange:
        fields = tuple(
            FieldChange(f.name, f.before, f.after, leaves(f.name, f.before, f.after), f.managed, f.origin)
            for f in change.fields
        )
        return replace(change, fields=fields)

    return replace(plan, memberships=tuple(derived(m) for m in plan.memberships))


def _where(loc: tuple[int | str, ...], *, dotted: bool = False) -> str:
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return text if dotted else (text.lstrip(".") or "the top level")


def read(path: Path, *, report: bool = False) -> Plan:
    """A saved plan (`plan --out`), or with `report` any plan or drift report (`--format json`), from a file;
    a file that is not one is an InvalidSavedPlan naming it, with every problem."""
    what = "report" if report else "saved plan"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSavedPlan(f"cannot read the {what} {path}: {exc}") from exc
    plan, problems = (parse_report if report else parse)(text)
    if plan is None:
        headline = f"{path} is not a plan or drift report" if report else f"{path} is not a valid saved plan"
        if not report:
            headline += "; nothing was applied"
        raise InvalidSavedPlan(headline, [f"{path}: {p}" for p in problems])
    return plan
