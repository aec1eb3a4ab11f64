"""Reading CloudTrail's events for a membership, defensively: pure, no AWS."""

from __future__ import annotations

import json
from typing import Any

from reconciler.core.attribution import SHOWN, Attribution, attribute

MID = "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21"
OTHER = "0b7e4c1a-1111-4222-8333-444455556666"


def event(name: str = "UpdateMembership", detail: Any = None, resources: Any = None, **extra: Any) -> dict[str, Any]:
    raw = detail if isinstance(detail, str) or detail is None else json.dumps(detail)
    return {
        "EventName": name,
        "EventTime": "2026-12-02T10:00:00Z",
        "CloudTrailEvent": raw,
        "Resources": resources,
        **extra,
    }


def test_the_membership_is_found_wherever_an_event_names_it_and_reads_and_broken_events_do_not_break_it() -> None:
    events = [
        event("GetMembership", {"requestParameters": {"membershipIdentifier": MID}}, ReadOnly="true"),
        event(detail="{not json", resources=[{"ResourceName": f"arn:aws:cleanrooms:us-east-1:1:membership/{MID}"}]),
        event("TagResource", {"userIdentity": "odd", "requestParameters": {"resourceArn": f"x/{MID}", "tags": {}}}),
        event(detail={"requestParameters": {"membershipIdentifier": OTHER, "queryLogStatus": "ENABLED"}}),
    ]
    found = attribute(events, {MID, OTHER})
    assert [(w.event, w.principal, w.source, w.via, w.fields) for w in found[MID].writes] == [
        ("UpdateMembership", "unknown principal", "unknown source", "the console", ()),
        ("TagResource", "unknown principal", "unknown source", "the console", ("tags",)),
    ]
    assert [w.fields for w in found[OTHER].writes] == [("queryLogStatus",)]


def test_only_the_most_recent_writes_are_kept_and_ours_are_marked_by_our_user_agent() -> None:
    ours = {"userAgent": "Boto3/1.40 md/Botocore#1.44 cleanrooms-reconciler", "requestParameters": {"m": MID}}
    found = attribute([event(detail=ours)] * (SHOWN + 2), {MID})
    assert len(found[MID].writes) == SHOWN
    assert all(w.ours and w.via == "this tool" for w in found[MID].writes)
    assert str(found[MID].writes[0]).startswith("UpdateMembership by this tool at 2026-12-02T10:00:00Z")


def test_an_attribution_round_trips_through_a_report_and_says_why_when_unknown() -> None:
    found = attribute([event(detail={"requestParameters": {"membershipIdentifier": MID}})], {MID})[MID]
    assert Attribution.from_json(json.loads(json.dumps(found.to_json()))) == found
    assert Attribution(unknown="AccessDeniedException: no").lines() == [
        "changed by: unknown (AccessDeniedException: no)"
    ]
    assert Attribution().lines()[0].startswith("changed by: no write to it in CloudTrail's window")


def test_expected_drift_is_judged_on_every_write_and_never_when_who_is_unknown() -> None:
    bob = {"userIdentity": {"arn": "arn:aws:sts::1:assumed-role/BreakGlass/bob"}, "requestParameters": {"m": MID}}
    alice = {"userIdentity": {"arn": "arn:aws:sts::1:assumed-role/Admin/alice"}, "requestParameters": {"m": MID}}
    ignored = ["arn:aws:sts::*:assumed-role/BreakGlass/*"]
    only_bob = attribute([event(detail=bob)], {MID})[MID].judged(ignored)
    assert only_bob.expected == ("arn:aws:sts::*:assumed-role/BreakGlass/*",)
    assert only_bob.lines()[-1].startswith("expected: every write is by a principal drift.ignoreChangesBy lists")
    assert attribute([event(detail=bob), event(detail=alice)], {MID})[MID].judged(ignored).expected == ()
    assert Attribution(unknown="AccessDeniedException").judged(ignored).expected == ()
    assert Attribution().judged(ignored).expected == ()
