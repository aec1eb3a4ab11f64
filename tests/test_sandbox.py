"""The local Clean Rooms endpoint behaves like the service where moto 5.2.5 does not, and its faults,
latency, rate limit and request log do what tests rely on."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from reconciler.sandbox import CONFLICT, SERVER_ERROR, THROTTLE, CleanRoomsSandbox, Fault
from reconciler.sandbox.faults import Faults, TokenBucket

ROLE = "arn:aws:iam::123456789012:role/CleanRoomsJobResults"
JOB_RESULTS = {"roleArn": ROLE, "outputConfiguration": {"s3": {"bucket": "jobs-bucket", "keyPrefix": "j/"}}}
QUERY_RESULTS = {"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "query-bucket"}}}


def client(sandbox: CleanRoomsSandbox, region: str = "us-east-1") -> Any:
    env = sandbox.client_env()
    return boto3.client(
        "cleanrooms",
        region_name=region,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"total_max_attempts": 1}),
    )


def error_of(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return dict(caught.value.response)


def test_update_applies_every_settable_field(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme")
    before = sandbox.membership(mid)["updateTime"]
    time.sleep(0.01)
    returned = client(sandbox).update_membership(
        membershipIdentifier=mid,
        queryLogStatus="ENABLED",
        jobLogStatus="ENABLED",
        defaultResultConfiguration=QUERY_RESULTS,
        defaultJobResultConfiguration=JOB_RESULTS,
    )["membership"]
    live = sandbox.membership(mid)
    for source in (returned, live):
        assert source["queryLogStatus"] == "ENABLED"
        assert source["jobLogStatus"] == "ENABLED"
        assert source["defaultResultConfiguration"] == QUERY_RESULTS
        assert source["defaultJobResultConfiguration"] == JOB_RESULTS
    assert live["updateTime"] > before


def test_update_is_a_patch_fields_left_out_stay(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme", jobLogStatus="ENABLED", defaultJobResultConfiguration=JOB_RESULTS)
    client(sandbox).update_membership(membershipIdentifier=mid, queryLogStatus="ENABLED")
    live = sandbox.membership(mid)
    assert (live["queryLogStatus"], live["jobLogStatus"]) == ("ENABLED", "ENABLED")
    assert live["defaultJobResultConfiguration"] == JOB_RESULTS


def test_create_membership_over_http_keeps_job_fields(sandbox: CleanRoomsSandbox) -> None:
    api = client(sandbox)
    collaboration = api.create_collaboration(
        members=[],
        name="made-over-http",
        description="d",
        creatorMemberAbilities=["CAN_QUERY"],
        creatorDisplayName="me",
        queryLogStatus="ENABLED",
    )["collaboration"]
    created = api.create_membership(
        collaborationIdentifier=collaboration["id"],
        queryLogStatus="ENABLED",
        jobLogStatus="ENABLED",
        defaultJobResultConfiguration=JOB_RESULTS,
    )["membership"]
    assert created["jobLogStatus"] == "ENABLED"
    fetched = api.get_membership(membershipIdentifier=created["id"])["membership"]
    assert fetched["defaultJobResultConfiguration"] == JOB_RESULTS
    assert fetched["memberAbilities"] == ["CAN_QUERY"]


@pytest.mark.parametrize("status", ["REMOVED", "COLLABORATION_DELETED"])
def test_update_of_a_membership_that_is_not_active_fails(sandbox: CleanRoomsSandbox, status: str) -> None:
    mid = sandbox.create_membership("gone")
    sandbox.set_status(mid, status)
    response = error_of(client(sandbox).update_membership, membershipIdentifier=mid, queryLogStatus="ENABLED")
    assert response["Error"]["Code"] == "ValidationException"
    assert status in response["Error"]["Message"]
    assert sandbox.membership(mid)["queryLogStatus"] == "DISABLED"
    assert client(sandbox).get_membership(membershipIdentifier=mid)["membership"]["status"] == status


def test_update_rejects_values_the_service_rejects(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme")
    response = error_of(client(sandbox).update_membership, membershipIdentifier=mid, queryLogStatus="MAYBE")
    assert response["Error"]["Code"] == "ValidationException"
    assert response["reason"] == "FIELD_VALIDATION_FAILED"


def test_unknown_membership_is_404(sandbox: CleanRoomsSandbox) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    response = error_of(client(sandbox).get_membership, membershipIdentifier=missing)
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_list_status_filter_and_paging(sandbox: CleanRoomsSandbox) -> None:
    ids = [sandbox.create_membership(f"c{i}") for i in range(5)]
    sandbox.set_status(ids[1], "REMOVED")
    pages = list(
        client(sandbox).get_paginator("list_memberships").paginate(status="ACTIVE", PaginationConfig={"PageSize": 2})
    )
    listed = [s["id"] for page in pages for s in page["membershipSummaries"]]
    assert sorted(listed) == sorted(i for i in ids if i != ids[1])
    assert len(pages) == 3
    summary = pages[0]["membershipSummaries"][0]
    assert "queryLogStatus" not in summary and "defaultResultConfiguration" not in summary


def test_scripted_faults_are_answered_in_order_then_requests_pass(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme")
    sandbox.inject("GetMembership", sequence=[THROTTLE, CONFLICT, SERVER_ERROR, None])
    api = client(sandbox)
    codes = [error_of(api.get_membership, membershipIdentifier=mid)["Error"]["Code"] for _ in range(3)]
    assert codes == ["ThrottlingException", "ConflictException", "InternalServerException"]
    assert api.get_membership(membershipIdentifier=mid)["membership"]["id"] == mid
    assert [r.status for r in sandbox.requests("GetMembership")] == [429, 409, 500, 200]
    assert api.get_membership(membershipIdentifier=mid)["membership"]["id"] == mid


def test_conflict_carries_reason_and_request_id(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme")
    sandbox.inject("UpdateMembership", sequence=[Fault(409, reason="SUBRESOURCES_EXIST")])
    response = error_of(client(sandbox).update_membership, membershipIdentifier=mid, queryLogStatus="ENABLED")
    assert response["reason"] == "SUBRESOURCES_EXIST"
    assert response["resourceId"] == mid
    assert len(response["ResponseMetadata"]["RequestId"]) == 36


def test_conflict_with_concurrent_write_changes_other_fields_but_not_the_request(
    sandbox: CleanRoomsSandbox,
) -> None:
    mid = sandbox.create_membership("acme")
    sandbox.inject("UpdateMembership", sequence=[Fault(409, concurrent_write={"jobLogStatus": "ENABLED"})])
    error_of(client(sandbox).update_membership, membershipIdentifier=mid, queryLogStatus="ENABLED")
    live = sandbox.membership(mid)
    assert (live["queryLogStatus"], live["jobLogStatus"]) == ("DISABLED", "ENABLED")


def test_error_after_apply_leaves_the_write_done(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme")
    sandbox.inject("UpdateMembership", sequence=[Fault(500, after_apply=True)])
    response = error_of(client(sandbox).update_membership, membershipIdentifier=mid, queryLogStatus="ENABLED")
    assert response["Error"]["Code"] == "InternalServerException"
    assert sandbox.membership(mid)["queryLogStatus"] == "ENABLED"


def get_statuses(sandbox: CleanRoomsSandbox, membership_id: str, count: int) -> list[int]:
    """HTTP status of `count` GetMembership calls in a row."""
    api = client(sandbox)
    statuses = []
    for _ in range(count):
        try:
            api.get_membership(membershipIdentifier=membership_id)
            statuses.append(200)
        except ClientError as exc:
            statuses.append(exc.response["ResponseMetadata"]["HTTPStatusCode"])
    return statuses


def test_fault_rate_is_a_seeded_share(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme")
    sandbox.inject("GetMembership", rate=0.5, fault=THROTTLE)
    outcomes = get_statuses(sandbox, mid, 200)
    assert set(outcomes) == {200, 429}
    assert 70 <= outcomes.count(429) <= 130
    assert [r.status for r in sandbox.requests()] == outcomes


def test_faults_can_target_one_membership(sandbox: CleanRoomsSandbox) -> None:
    hit, spared = sandbox.create_membership("hit"), sandbox.create_membership("spared")
    sandbox.inject("*", rate=1.0, fault=THROTTLE, membership_id=hit)
    api = client(sandbox)
    assert error_of(api.get_membership, membershipIdentifier=hit)["Error"]["Code"] == "ThrottlingException"
    assert api.get_membership(membershipIdentifier=spared)["membership"]["id"] == spared


def test_latency_is_added_per_operation(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme")
    api = client(sandbox)
    api.get_membership(membershipIdentifier=mid)  # connection set up outside the measurement
    sandbox.set_latency(0.2, operations=["GetMembership"])
    started = time.perf_counter()
    api.get_membership(membershipIdentifier=mid)
    slow = time.perf_counter() - started
    started = time.perf_counter()
    api.list_memberships()
    assert slow >= 0.2
    assert time.perf_counter() - started < slow


def test_latency_varies_by_its_jitter_reproducibly_and_leaves_the_faults_as_seeded() -> None:
    def draws(jitter: float) -> tuple[list[float], list[bool]]:
        faults = Faults(seed=3)
        faults.set_latency(0.1, jitter=jitter)
        faults.inject("*", rate=0.5)
        pairs = [
            (faults.latency("GetMembership"), faults.next("GetMembership", "m", ("a", "r")) is None) for _ in range(200)
        ]
        return [latency for latency, _ in pairs], [spared for _, spared in pairs]

    latencies, spared = draws(0.5)
    assert min(latencies) >= 0.05 and max(latencies) <= 0.15
    assert min(latencies) < 0.06 and max(latencies) > 0.14  # spread over the whole range
    assert draws(0.5) == (latencies, spared)  # the same seed, the same draws
    assert draws(0.0) == ([0.1] * 200, spared)  # the faults drawn apart from the latency
    with pytest.raises(ValueError, match="jitter is a share of the latency"):
        Faults().set_latency(0.1, jitter=1.5)


def test_rate_limit_throttles_beyond_the_budget(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme")
    sandbox.set_rate_limit(1, burst=3)
    statuses = get_statuses(sandbox, mid, 6)
    # A full bucket lets the burst through, then refills at 1/s.
    assert statuses[:3] == [200, 200, 200]
    assert statuses.count(429) >= 2


def test_the_rate_limit_is_a_quota_per_region_over_reads_and_writes(sandbox: CleanRoomsSandbox) -> None:
    here, there = sandbox.create_membership("here"), sandbox.create_membership("there", region="eu-west-1")
    sandbox.set_rate_limit(0.01, burst=2)
    east, west = client(sandbox), client(sandbox, "eu-west-1")
    east.get_membership(membershipIdentifier=here)
    east.update_membership(membershipIdentifier=here, jobLogStatus="ENABLED")
    with pytest.raises(ClientError, match="ThrottlingException"):
        east.list_memberships()
    west.get_membership(membershipIdentifier=there)  # its own bucket, still full
    assert [r.status for r in sandbox.requests()] == [200, 200, 429, 200]


def test_request_log_records_method_path_body_and_status(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme")
    client(sandbox).update_membership(membershipIdentifier=mid, jobLogStatus="ENABLED")
    [logged] = sandbox.requests()
    assert (logged.method, logged.path, logged.operation) == (
        "PATCH",
        f"/memberships/{mid}",
        "UpdateMembership",
    )
    assert logged.membership_id == mid
    assert logged.body == {"jobLogStatus": "ENABLED"}
    assert (logged.status, logged.fault) == (200, None)
    sandbox.clear_requests()
    assert sandbox.requests() == []


def test_out_of_band_write_is_not_logged(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme")
    sandbox.write(mid, {"defaultResultConfiguration": QUERY_RESULTS})
    assert sandbox.requests() == []
    assert sandbox.membership(mid)["defaultResultConfiguration"] == QUERY_RESULTS


def test_payment_settings_are_applied_and_a_contradiction_of_the_designation_is_refused(
    sandbox: CleanRoomsSandbox,
) -> None:
    mid = sandbox.create_membership("acme")
    sandbox.designate(mid, {"queryCompute": {"isResponsible": True}, "jobCompute": {"isResponsible": True}})
    cleanrooms = client(sandbox)
    collaboration = cleanrooms.get_membership(membershipIdentifier=mid)["membership"]["collaborationId"]
    [member] = cleanrooms.list_members(collaborationIdentifier=collaboration)["memberSummaries"]
    assert member["paymentConfiguration"] == {
        "queryCompute": {"isResponsible": True},
        "jobCompute": {"isResponsible": True},
    }
    paid = {"queryCompute": {"isResponsible": True}, "jobCompute": {"isResponsible": True}}
    cleanrooms.update_membership(membershipIdentifier=mid, membershipPaymentConfiguration=paid)
    assert sandbox.membership(mid)["paymentConfiguration"] == paid
    refused = error_of(
        cleanrooms.update_membership,
        membershipIdentifier=mid,
        membershipPaymentConfiguration={"queryCompute": {"isResponsible": False}},
    )
    assert (refused["Error"]["Code"], refused["ResponseMetadata"]["HTTPStatusCode"]) == ("ValidationException", 400)
    assert sandbox.membership(mid)["paymentConfiguration"] == paid


def test_the_job_result_format_is_kept_and_checked(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme")
    parquet = {"roleArn": ROLE, "outputConfiguration": {"s3": {"bucket": "jobs-bucket", "resultFormat": "PARQUET"}}}
    cleanrooms = client(sandbox)
    cleanrooms.update_membership(membershipIdentifier=mid, defaultJobResultConfiguration=parquet)
    assert sandbox.membership(mid)["defaultJobResultConfiguration"] == parquet
    xlsx = {"roleArn": ROLE, "outputConfiguration": {"s3": {"bucket": "jobs-bucket", "resultFormat": "XLSX"}}}
    refused = error_of(cleanrooms.update_membership, membershipIdentifier=mid, defaultJobResultConfiguration=xlsx)
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_refuse_for_refuses_every_call_from_the_first_to_arrive(sandbox: CleanRoomsSandbox) -> None:
    mid = sandbox.create_membership("acme")
    sandbox.refuse_for(0.5)
    time.sleep(0.3)  # the window starts with the first call, not when it is set
    assert get_statuses(sandbox, mid, 3) == [429, 429, 429]
    time.sleep(0.6)
    assert get_statuses(sandbox, mid, 2) == [200, 200]


def test_a_shared_quota_serves_the_other_client_first(sandbox: CleanRoomsSandbox) -> None:
    # On the bucket's own clock (the wall clock made this flaky under load: the other client's calls accrue
    # while ours are slow): 10/s with a burst of 10, of which another client takes 8/s.
    bucket = TokenBucket(10, 10, 10, stamp=0.0, taken=8)
    assert [bucket.take(now=0.0) for _ in range(10)].count(True) == 10  # the burst is still ours
    assert bucket.take(now=0.0) is False
    # One second on, 10 tokens came and the other client's 8 were served first: 2 are left to us.
    later = [bucket.take(now=1.0) for _ in range(10)]
    assert later.count(True) == 2
    # Then 2/s: one call every half second gets through, none faster.
    assert [bucket.take(now=1.0 + 0.5 * i) for i in range(1, 5)] == [True, True, True, True]
    assert bucket.take(now=3.0) is False
    # Over HTTP, the sandbox's quota is this bucket: the first call of a fresh quota is served from its burst.
    mid = sandbox.create_membership("acme")
    sandbox.set_rate_limit(10, burst=10, taken=8)
    assert get_statuses(sandbox, mid, 1) == [200]
