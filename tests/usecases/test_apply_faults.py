"""Invariants of apply under random faults, over many seeds: the real applier and gateway over HTTP to the
local endpoint, with 429 / 409-with-concurrent-writer / 500 (before and after applying) at random rates."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import boto3
import pytest

from reconciler.core.desired import load
from reconciler.core.models import SETTABLE_FIELDS
from reconciler.core.outcome import Status
from reconciler.core.planner import build_plan, resolve_regions
from reconciler.core.retry import Retrier, RetryPolicy
from reconciler.edges.aws.client import AwsGateway
from reconciler.edges.aws.paced import LimitedGateway
from reconciler.edges.aws.ratelimit import RateController
from reconciler.sandbox import THROTTLE, CleanRoomsSandbox, Fault
from reconciler.usecases.applier import Applier
from reconciler.usecases.reader import read_live

from ..helpers import job_results, query_results, write_desired

MAX_ATTEMPTS = 12
MEMBERSHIPS = 4
# Payment settings are left out: their values are fixed by the collaboration's designation, so they cannot be
# drawn at random (test_payment*.py covers them, and their partial sends).
FIELDS = tuple(name for name in SETTABLE_FIELDS if name != "membershipPaymentConfiguration")


def random_value(rng: random.Random, name: str) -> Any:
    if name in ("queryLogStatus", "jobLogStatus"):
        return rng.choice(["ENABLED", "DISABLED"])
    bucket = rng.choice(["bucket-a", "bucket-b", "bucket-c"])
    if name == "defaultResultConfiguration":
        return query_results(bucket, rng.choice(["CSV", "PARQUET"]), keyPrefix=rng.choice(["", "p/"]))
    return job_results(bucket, keyPrefix=rng.choice(["", "j/"]))


def other_value(rng: random.Random, name: str, current: Any) -> Any:
    while True:
        value = random_value(rng, name)
        if value != current:
            return value


def gateway(sandbox: CleanRoomsSandbox) -> LimitedGateway:
    env = sandbox.client_env()
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    inner = AwsGateway(session, endpoint_url=sandbox.endpoint_url)
    return LimitedGateway(inner, lambda: RateController(sleep=lambda _: None))


@pytest.mark.parametrize("seed", range(20))
def test_apply_invariants_under_random_faults(sandbox: CleanRoomsSandbox, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    sandbox.reseed(seed)
    initial: dict[str, dict[str, Any]] = {}
    desired: dict[str, dict[str, Any]] = {}
    concurrent: dict[str, dict[str, Any]] = {}
    for i in range(MEMBERSHIPS):
        start = {name: random_value(rng, name) for name in FIELDS}
        mid = sandbox.create_membership(f"c{i}", **start)
        managed = rng.sample(FIELDS, rng.randint(1, 3))
        desired[mid] = {name: random_value(rng, name) for name in managed}
        initial[mid] = start
        unmanaged = [name for name in FIELDS if name not in managed]
        cw_field = rng.choice(unmanaged)
        concurrent[mid] = {cw_field: other_value(rng, cw_field, start[cw_field])}
        write_desired(tmp_path, f"m{i}.yaml", mid, **desired[mid])
        sandbox.inject(
            "UpdateMembership",
            rate=rng.uniform(0.1, 0.4),
            fault=Fault(409, reason="INVALID_STATE", concurrent_write=concurrent[mid]),
            membership_id=mid,
        )
    sandbox.inject("UpdateMembership", rate=rng.uniform(0.1, 0.3), fault=THROTTLE)
    sandbox.inject("UpdateMembership", rate=rng.uniform(0.05, 0.2), fault=Fault(500, after_apply=True))
    sandbox.inject("UpdateMembership", rate=rng.uniform(0, 0.2), fault=Fault(500))
    sandbox.inject("GetMembership", rate=rng.uniform(0.1, 0.3), fault=THROTTLE)

    retrier = Retrier(RetryPolicy(max_attempts=MAX_ATTEMPTS), sleep=lambda _: None, rng=random.Random(seed))
    api = gateway(sandbox)
    targets, region_errors = resolve_regions(load(tmp_path).files, "us-east-1")
    plan = build_plan(targets, read_live(api, targets, retrier, 4))
    assert region_errors == [] and plan.errors == ()
    planned_fields = {m.membershipIdentifier: set(m.body()) for m in plan.changes}

    outcomes = Applier(api, retrier).apply(plan.changes, parallelism=4)

    assert all(o.status in (Status.APPLIED, Status.CONVERGED) for o in outcomes), [o.describe() for o in outcomes]
    per_membership: dict[str, int] = {}
    for request in sandbox.requests("UpdateMembership"):
        assert request.membership_id is not None
        # Never a field outside the plan.
        assert set(request.body) <= planned_fields[request.membership_id]
        per_membership[request.membership_id] = per_membership.get(request.membership_id, 0) + 1
    assert all(count <= MAX_ATTEMPTS for count in per_membership.values())
    for mid, wanted in desired.items():
        live = sandbox.membership(mid)
        # Converged on every managed field ...
        assert {name: live.get(name) for name in wanted} == wanted
        # ... and no concurrent write to an unmanaged field was lost, nor any unmanaged field touched.
        conflicted = any(r.membership_id == mid and r.status == 409 for r in sandbox.requests("UpdateMembership"))
        for name in FIELDS:
            if name in wanted:
                continue
            expected = concurrent[mid].get(name, initial[mid][name]) if conflicted else initial[mid][name]
            assert live.get(name) == expected, name
