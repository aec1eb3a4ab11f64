"""The AWS edge over real HTTP to the local endpoint: every failure becomes an AwsError that says enough."""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import pytest

from reconciler.core.api import AwsError, Where
from reconciler.core.retry import Retrier
from reconciler.edges.aws import client
from reconciler.edges.aws.client import AwsGateway
from reconciler.sandbox import CleanRoomsSandbox, Fault
from reconciler.usecases.reader import list_active

HERE = Where("us-east-1")
MISSING = "00000000-0000-4000-8000-000000000000"


def gateway(endpoint_url: str) -> AwsGateway:
    session = boto3.Session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x", region_name="us-east-1")
    return AwsGateway(session, endpoint_url=endpoint_url)


def test_not_found_names_the_membership_and_request(sandbox: CleanRoomsSandbox) -> None:
    with pytest.raises(AwsError) as caught:
        gateway(sandbox.endpoint_url).get_membership(HERE, MISSING)
    error = caught.value
    assert (error.operation, error.membership_id, error.code, error.status) == (
        "GetMembership",
        MISSING,
        "ResourceNotFoundException",
        404,
    )
    assert error.not_found and not error.outcome_unknown
    assert error.request_id is not None and len(error.request_id) == 36


def test_a_conflict_carries_its_reason(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("a")
    sandbox.inject("UpdateMembership", sequence=[Fault(409, reason="INVALID_STATE")])
    with pytest.raises(AwsError) as caught:
        gateway(sandbox.endpoint_url).update_membership(HERE, mid, {"queryLogStatus": "ENABLED"})
    assert (caught.value.code, caught.value.reason, caught.value.status) == ("ConflictException", "INVALID_STATE", 409)


def test_an_endpoint_that_refuses_connections_is_an_unknown_outcome() -> None:
    with pytest.raises(AwsError) as caught:
        gateway("http://127.0.0.1:9").get_membership(HERE, MISSING)
    assert caught.value.status is None and caught.value.outcome_unknown
    assert caught.value.code == "EndpointConnectionError"


def test_update_returns_the_membership_and_the_request_id(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("a")
    membership, request_id = gateway(sandbox.endpoint_url).update_membership(HERE, mid, {"queryLogStatus": "ENABLED"})
    assert membership["queryLogStatus"] == "ENABLED"
    assert request_id is not None and len(request_id) == 36


def test_listing_is_one_call_per_page_and_pages_to_the_end_with_the_status_filter(
    sandbox: CleanRoomsSandbox,
) -> None:
    # The service pages by 100 and filters by status within a page: a page may come back short.
    removed = [sandbox.create_membership(f"gone{i}", status="REMOVED") for i in range(3)]
    active = {sandbox.create_membership(f"c{i}") for i in range(101)}
    edge = gateway(sandbox.endpoint_url)
    first = edge.list_memberships(HERE, "ACTIVE", None)
    assert len(first.summaries) == 97 and first.next_token
    assert len(sandbox.requests("ListMemberships")) == 1
    listed = list_active(edge, Retrier(), HERE)
    assert {m["id"] for m in listed} == active and not active & set(removed)
    assert len(sandbox.requests("ListMemberships")) == 1 + 2


def test_lookups_are_paced_per_account_and_region_under_two_a_second() -> None:
    from reconciler.core.api import Where
    from reconciler.edges.aws.paced import LOOKUP_INTERVAL, Interval

    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    interval = Interval(LOOKUP_INTERVAL, clock=lambda: now[0], sleep=sleep)
    here, there = Where("us-east-1"), Where("eu-west-1", "111122223333")
    for where in (here, here, there, here):
        interval.wait(where)
    assert slept == pytest.approx([LOOKUP_INTERVAL, LOOKUP_INTERVAL])  # the 2nd and 4th call here; there: its own
    assert LOOKUP_INTERVAL > 0.5


def test_every_service_the_edge_calls_is_one_the_action_keeps_the_model_of() -> None:
    # The action's cached environment keeps botocore's models of SERVICES and CREDENTIAL_SERVICES only: a
    # client of any other service would fail there (UnknownServiceError) and nowhere else.
    source = Path(client.__file__).read_text()
    called = set(re.findall(r"(?:\.client|_service_client)\(\s*\"([a-z0-9-]+)\"", source))
    assert called == set(client.SERVICES) == {"cleanrooms", "cloudtrail", "sts"}
    action = (Path(client.__file__).parents[3] / "action.yml").read_text()
    assert "from reconciler.edges.aws.client import CREDENTIAL_SERVICES, SERVICES" in action
    assert "model.name not in SERVICES + CREDENTIAL_SERVICES" in action
