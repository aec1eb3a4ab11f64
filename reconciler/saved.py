"""Reading a saved plan (`plan --out`) for `apply --plan`: checked like desired state, before any call.

A saved plan is input like a desired-state file: it may have been edited, truncated or produced by another
version. Its shape is checked strictly, and every value it would send (`after`) goes through the same model
as `validate`, so nothing the desired state could not hold is ever written. Pure: no AWS, no printing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .desired import explain
from .errors import InvalidSavedPlan
from .models import SETTABLE_FIELDS, AccountId, DesiredMembership, MembershipId, Region
from .plan import Plan


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _SavedField(_Closed):
    before: Any = None
    after: Any
    leaves: list[dict[str, Any]] = []
    managed: dict[str, Any] | None = None
    origin: str = "file"


class _SavedChange(_Closed):
    membershipIdentifier: MembershipId
    source: str
    region: Region
    accountId: AccountId | None = None
    collaborationName: str = ""
    fields: dict[str, _SavedField] = Field(min_length=1)
    fingerprint: str
    desiredSha256: str
    liveSettings: dict[str, Any] = {}


class _SavedPlan(_Closed):
    formatVersion: Literal[1]
    changes: list[_SavedChange]
    summary: dict[str, int] | None = None
    errors: list[Any] = Field(default=[], max_length=0)
    unmanaged: list[Any] | None = None
    changesHash: str | None = None
    target: str | None = None


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


_SHAPES = {
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "list_type": "must be a list",
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


def _shaped(text: str, shape: type[_SavedPlan]) -> tuple[dict[str, Any], _SavedPlan | None, list[str]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        return {}, None, [f"the top level: not JSON: {exc}"]
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
    problems = _values(saved)
    if problems:
        return None, problems
    plan = Plan.from_json(data)
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
        return Plan.from_json(data), []
    except ValueError as exc:  # a target that is not ACCOUNT/REGION
        return None, [f"target: {exc}"]


def _values(saved: _SavedPlan) -> list[str]:
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, change in enumerate(saved.changes):
        at = f"changes[{index}]"
        first = seen.setdefault(change.membershipIdentifier, index)
        if first != index:
            problems.append(f"{at}: membership {change.membershipIdentifier} is already planned in changes[{first}]")
        unknown = [name for name in change.fields if name not in SETTABLE_FIELDS]
        problems += [f"{at}.fields.{name}: not a field UpdateMembership can change" for name in unknown]
        after = {name: f.after for name, f in change.fields.items() if name not in unknown}
        try:
            DesiredMembership.model_validate({"membershipIdentifier": change.membershipIdentifier, **after})
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                problems.append(f"{at}.fields.{loc[0]}.after{_where(loc[1:], dotted=True)}: {explain(loc, err)}")
    return problems


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
