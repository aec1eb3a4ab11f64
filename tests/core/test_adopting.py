"""What `adopt` writes for each drifted field, or why it cannot: pure, no AWS."""

from __future__ import annotations

from reconciler.core.adopting import adoption
from reconciler.core.plan import FieldChange, MembershipChange

MID = "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21"


def change(*fields: FieldChange) -> MembershipChange:
    return MembershipChange(MID, "d/a.yaml", "us-east-1", fields, "f", "0" * 64)


def test_a_field_managed_in_part_adopts_only_its_managed_leaves_and_an_absent_value_is_refused() -> None:
    live_payment = {"queryCompute": {"isResponsible": True}, "jobCompute": {"isResponsible": False}}
    payment = FieldChange(
        "membershipPaymentConfiguration",
        live_payment,
        {**live_payment, "jobCompute": {"isResponsible": True}},
        managed={"jobCompute": {"isResponsible": True}},
    )
    never_set = FieldChange("defaultResultConfiguration", None, {"outputConfiguration": {}}, origin="defaults[0] (**)")
    found = adoption(change(payment, never_set))
    assert found.values == {"membershipPaymentConfiguration": {"jobCompute": {"isResponsible": False}}}
    assert found.refused == (
        "defaultResultConfiguration: the membership has no live value for it; leave the key out to stop managing it",
    )
    assert found.notes == ()
    sub_key_gone = FieldChange(
        "membershipPaymentConfiguration",
        {},
        {"jobCompute": {"isResponsible": True}},
        (),
        {"jobCompute": {"isResponsible": True}},
    )
    assert adoption(change(sub_key_gone)).values == {}
