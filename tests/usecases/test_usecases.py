"""The use cases over the in-memory gateway: each returns its result and exit status, or raises a typed error."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.core.api import Where
from reconciler.core.errors import ApplyRefused, ExitStatus, InvalidDesiredState, NothingSelected, PlanHasErrors
from reconciler.core.plan import Plan, Selection
from reconciler.usecases import apply, drift, plan, targets
from reconciler.usecases.runtime import Runtime, Settings

from ..fakes import FakeGateway
from ..helpers import write_desired

EVERYTHING = Selection()


def runtime(gateway: FakeGateway) -> Runtime:
    return Runtime(Settings(region="us-east-1"), gateway=gateway)


def test_plan_status_follows_changes_only_with_detailed_exitcode(tmp_path: Path) -> None:
    gateway = FakeGateway()
    write_desired(tmp_path, "a.yaml", gateway.add(queryLogStatus="DISABLED"), queryLogStatus="ENABLED")
    assert plan.plan(runtime(gateway), tmp_path, EVERYTHING, None, False).status is ExitStatus.OK
    result = plan.plan(runtime(gateway), tmp_path, EVERYTHING, None, True)
    assert result.status is ExitStatus.CHANGES
    assert [c.body() for c in result.plan.changes] == [{"queryLogStatus": "ENABLED"}]


def test_plan_errors_are_reported_and_not_saved(tmp_path: Path) -> None:
    gateway = FakeGateway()
    write_desired(tmp_path / "d", "a.yaml", gateway.add(status="REMOVED"), queryLogStatus="ENABLED")
    out = tmp_path / "p.json"
    result = plan.plan(runtime(gateway), tmp_path / "d", EVERYTHING, out, False)
    assert result.status is ExitStatus.ERROR
    assert result.messages == (
        "1 membership(s) cannot be planned; nothing will be applied",
        f"the plan was not saved to {out}: it has errors",
    )
    assert not out.exists()


def test_invalid_files_stop_before_any_call(tmp_path: Path) -> None:
    gateway = FakeGateway()
    write_desired(tmp_path, "a.yaml", gateway.add(), queryLogStatus="YES")
    with pytest.raises(InvalidDesiredState) as caught:
        plan.plan(runtime(gateway), tmp_path, EVERYTHING, None, False)
    assert [p.field for p in caught.value.problems] == ["queryLogStatus"]
    assert gateway.calls == []


def test_a_membership_selection_naming_no_file_is_an_error(tmp_path: Path) -> None:
    gateway = FakeGateway()
    write_desired(tmp_path, "a.yaml", gateway.add(), queryLogStatus="ENABLED")
    missing = "00000000-0000-4000-8000-00000000ffff"
    with pytest.raises(NothingSelected, match=f"--membership names no file under {tmp_path}: {missing}"):
        plan.plan(runtime(gateway), tmp_path, Selection(frozenset({missing})), None, False)


def test_apply_shows_the_plan_then_confirms_then_writes(tmp_path: Path) -> None:
    gateway = FakeGateway()
    mid = gateway.add(queryLogStatus="DISABLED")
    write_desired(tmp_path, "a.yaml", mid, queryLogStatus="ENABLED")
    events: list[str] = []

    def show(plan: Plan) -> None:
        events.append(f"show {len(plan.changes)}")

    def confirm(count: int) -> None:
        events.append(f"confirm {count}")

    result = apply.apply(runtime(gateway), tmp_path, EVERYTHING, apply.ApplyOptions(), show=show, confirm=confirm)
    assert events == ["show 1", "confirm 1"]
    assert result.status is ExitStatus.OK
    assert gateway.writes() == [{"queryLogStatus": "ENABLED"}]


def test_apply_refusals_write_nothing(tmp_path: Path) -> None:
    gateway = FakeGateway()
    write_desired(tmp_path, "a.yaml", gateway.add(queryLogStatus="DISABLED"), queryLogStatus="ENABLED")
    write_desired(tmp_path, "b.yaml", gateway.add(status="REMOVED"), queryLogStatus="ENABLED")

    def refuse(_count: int) -> None:
        raise ApplyRefused("no")

    with pytest.raises(PlanHasErrors, match="1 membership"):
        apply.apply(runtime(gateway), tmp_path, EVERYTHING, apply.ApplyOptions(), show=print, confirm=refuse)
    (tmp_path / "b.yaml").unlink()
    with pytest.raises(ApplyRefused, match="more than --max-changes 0"):
        options = apply.ApplyOptions(max_changes=0)
        apply.apply(runtime(gateway), tmp_path, EVERYTHING, options, show=print, confirm=refuse)
    with pytest.raises(ApplyRefused, match="no"):
        apply.apply(runtime(gateway), tmp_path, EVERYTHING, apply.ApplyOptions(), show=print, confirm=refuse)
    assert gateway.writes() == []


def test_drift_status_and_unmanaged(tmp_path: Path) -> None:
    gateway = FakeGateway()
    managed = gateway.add(queryLogStatus="DISABLED")
    stray = gateway.add(collaboration="stray")
    write_desired(tmp_path, "a.yaml", managed, queryLogStatus="ENABLED")
    result = drift.drift(runtime(gateway), tmp_path, EVERYTHING, report_unmanaged=True)
    assert result.status is ExitStatus.CHANGES
    assert [u.membershipIdentifier for u in result.report.unmanaged or ()] == [stray]
    assert "UpdateMembership" not in gateway.operations()


def test_targets_are_sorted_labels(tmp_path: Path) -> None:
    gateway = FakeGateway()
    write_desired(tmp_path, "a.yaml", gateway.add(), queryLogStatus="ENABLED")
    write_desired(tmp_path, "b.yaml", gateway.add(), region="eu-west-1", accountId="444455556666")
    found = targets.targets(runtime(gateway), tmp_path)
    assert found == [Where("eu-west-1", "444455556666"), Where("us-east-1")]
    assert [w.label for w in found] == ["444455556666/eu-west-1", "default/us-east-1"]
    assert Where.parse("default/us-east-1") == Where("us-east-1")
