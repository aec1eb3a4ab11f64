"""What moto 5.2.5's Clean Rooms lacks, kept in one place so it can be deleted piece by piece as moto
catches up. Each function names the gap it fills:

* UpdateMembership applies only `queryLogStatus`           -> `apply_fields` (every settable field, PATCH)
* CreateMembership drops `jobLogStatus` and job results     -> `apply_fields` after create
* Membership.to_dict() omits the job fields                 -> `full`
* no enum or required-member checks on update               -> `check_update`
* a membership that is not ACTIVE can be updated            -> `refuse_inactive`
* the ListMemberships `status` filter is ignored            -> `filter_by_status`
* logging changes show at once (the service takes minutes)  -> `LogPropagation`
* payment: UpdateMembership ignores membershipPaymentConfiguration, ListMembers gives every member
  {queryCompute: true}, and nothing checks a member accepts what the creator designated
                                                            -> `apply_fields`, `Designations`
* no cross-account invitations: a collaboration exists only in its creator's account
                                                            -> `invited` (the invitation is the collaboration
                                                               in the invitee's backend, with the creator's
                                                               account; moto lists it INVITED until joined)
* CreateMembership joins twice, ignores `isMetricsEnabled`  -> `refuse_second_join`, `apply_fields`
* CloudTrail: no events for Clean Rooms calls, LookupEvents not implemented
                                                            -> `CloudTrail`
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from moto.cleanrooms.models import Collaboration, Membership
from moto.core.utils import unix_time

from .faults import ERROR_NAMES

LOG_STATUSES = ("ENABLED", "DISABLED")
LOG_FIELDS = ("queryLogStatus", "jobLogStatus")
RESULT_FORMATS = ("CSV", "PARQUET")

SETTABLE = (
    "queryLogStatus",
    "jobLogStatus",
    "defaultResultConfiguration",
    "defaultJobResultConfiguration",
    "membershipPaymentConfiguration",
)
# moto keeps each field as the snake_case attribute of its camelCase name, but for the payment settings.
_ATTRIBUTES = {"membershipPaymentConfiguration": "payment_configuration"}
CREATE_ONLY = ("isMetricsEnabled",)
PAYMENTS = (
    ("queryCompute",),
    ("jobCompute",),
    ("machineLearning", "modelTraining"),
    ("machineLearning", "modelInference"),
    ("machineLearning", "syntheticDataGeneration"),
)
JOB_FIELDS = ("jobLogStatus", "defaultJobResultConfiguration")


class ServiceError(Exception):
    """An error answer, as the service would send it."""

    def __init__(self, status: int, body: Mapping[str, Any], code: str | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.body = dict(body)
        self.code = code


def service_error(status: int, message: str, code: str | None = None, **extra: Any) -> ServiceError:
    return ServiceError(
        status,
        {"message": message, **{k: v for k, v in extra.items() if v is not None}},
        code or ERROR_NAMES.get(status, "InternalServerException"),
    )


def apply_fields(membership: Membership, fields: Mapping[str, Any]) -> None:
    # PATCH semantics: a field left out (or None here) stays as it is; a nested object is replaced whole.
    changed = False
    for name in (*SETTABLE, *CREATE_ONLY):
        if fields.get(name) is not None:
            attribute = _ATTRIBUTES.get(name) or re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
            setattr(membership, attribute, copy(fields[name]))
            changed = True
    if changed:
        membership.update_time = unix_time()


def full(membership: Membership) -> dict[str, Any]:
    data: dict[str, Any] = membership.to_dict()
    extra = {
        "isMetricsEnabled": getattr(membership, "is_metrics_enabled", None),
        "jobLogStatus": getattr(membership, "job_log_status", None),
        "defaultJobResultConfiguration": getattr(membership, "default_job_result_configuration", None),
    }
    data |= {k: copy(v) for k, v in extra.items() if v is not None}
    if "defaultResultConfiguration" in data:
        data["defaultResultConfiguration"] = copy(data["defaultResultConfiguration"])
    return data


def check_update(body: Mapping[str, Any]) -> None:
    """The service's own checks on the fields we send: enums and required members."""
    for name in LOG_FIELDS:
        if name in body and body[name] not in LOG_STATUSES:
            raise service_error(400, f"Invalid {name}: {body[name]!r}", reason="FIELD_VALIDATION_FAILED")
    query = body.get("defaultResultConfiguration")
    if query is not None:
        s3 = (query.get("outputConfiguration") or {}).get("s3") or {}
        if s3.get("resultFormat") not in RESULT_FORMATS or not s3.get("bucket"):
            raise service_error(400, "Invalid defaultResultConfiguration", reason="FIELD_VALIDATION_FAILED")
    job = body.get("defaultJobResultConfiguration")
    if job is not None and (not job.get("roleArn") or not (job.get("outputConfiguration") or {}).get("s3")):
        raise service_error(400, "Invalid defaultJobResultConfiguration", reason="FIELD_VALIDATION_FAILED")
    job_format = ((job or {}).get("outputConfiguration") or {}).get("s3", {}).get("resultFormat")
    if job_format is not None and job_format not in RESULT_FORMATS:
        raise service_error(400, f"Invalid resultFormat: {job_format!r}", reason="FIELD_VALIDATION_FAILED")


def invited(collaboration: Collaboration, creator_account: str, creator_name: str) -> None:
    """Make a collaboration created in the invitee's backend the creator's, as the invitee sees it."""
    collaboration.creator_account_id = creator_account
    collaboration.creator_display_name = creator_name
    collaboration.arn = re.sub(r":\d{12}:", f":{creator_account}:", collaboration.arn, count=1)


def refuse_second_join(collaboration: Collaboration) -> None:
    if collaboration.membership_id is not None:
        # Assumption: the service answers a second CreateMembership with a 409 (one membership per account).
        raise service_error(
            409,
            f"This account is already a member of collaboration {collaboration.id}",
            resourceId=collaboration.id,
            resourceType="COLLABORATION",
        )


def refuse_inactive(membership: Membership) -> None:
    if membership.status != "ACTIVE":
        # Assumption: the service refuses with a permanent 400, not a retryable 409.
        raise service_error(
            400,
            f"Membership {membership.id} is {membership.status}; only an ACTIVE membership can be updated",
            reason="INVALID_CONFIGURATION",
        )


class Designations:
    """Who the creator of each collaboration designated to pay, per member account (moto: the creator pays
    for queries, nobody for anything else); tests set them with `CleanRoomsSandbox.designate`."""

    def __init__(self) -> None:
        self._payers: dict[tuple[str, str], dict[str, Any]] = {}

    def reset(self) -> None:
        self._payers.clear()

    def set(self, collaboration_id: str, account: str, payment: Mapping[str, Any]) -> None:
        self._payers[(collaboration_id, account)] = copy(dict(payment))

    def of(self, collaboration_id: str, account: str, default: Mapping[str, Any]) -> dict[str, Any]:
        found = self._payers.get((collaboration_id, account))
        chosen: dict[str, Any] = copy(dict(found if found is not None else default))
        return chosen

    def members(self, page: dict[str, Any], collaboration_id: str) -> dict[str, Any]:
        for summary in page.get("memberSummaries", []):
            summary["paymentConfiguration"] = self.of(
                collaboration_id, summary["accountId"], summary.get("paymentConfiguration") or {}
            )
        return page

    def refuse_contrary(self, collaboration_id: str, account: str, wanted: Mapping[str, Any] | None) -> None:
        """The service refuses `false` from a designated payer and `true` from anyone else."""
        if not wanted:
            return
        designated = self.of(collaboration_id, account, {"queryCompute": {"isResponsible": True}})
        for path in PAYMENTS:
            asked, payer = _dig(wanted, path), _dig(designated, path)
            if asked is not None and bool(asked.get("isResponsible")) != bool((payer or {}).get("isResponsible")):
                raise service_error(
                    400,
                    f"{'.'.join(path)}: isResponsible must be {bool((payer or {}).get('isResponsible'))} for this "
                    "member: the collaboration creator designates who pays",
                    reason="INVALID_CONFIGURATION",
                )


def _dig(value: Any, path: Sequence[str]) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def filter_by_status(page: dict[str, Any], wanted: Sequence[str]) -> dict[str, Any]:
    page["membershipSummaries"] = [s for s in page["membershipSummaries"] if s.get("status") in wanted]
    return page


class LogPropagation:
    """Like the service, show a query/job logging change only `delay` seconds after it was made."""

    def __init__(self) -> None:
        self.delay = 0.0
        self._pending: dict[tuple[str, str], tuple[Any, float]] = {}

    def reset(self) -> None:
        self.delay = 0.0
        self._pending.clear()

    def remember(self, membership: Membership, body: Mapping[str, Any]) -> None:
        if not self.delay:
            return
        seen = full(membership)
        for name in LOG_FIELDS:
            if name in body and body[name] != seen.get(name):
                self._pending[(membership.id, name)] = (seen.get(name), time.monotonic() + self.delay)

    def as_seen(self, membership: Membership) -> dict[str, Any]:
        """The membership as a caller sees it: a logging change still propagating shows its old value."""
        data = full(membership)
        now = time.monotonic()
        for (membership_id, name), (old, until) in list(self._pending.items()):
            if membership_id == membership.id and now < until:
                data[name] = old
        return data


def copy(value: Any) -> Any:
    return json.loads(json.dumps(value)) if value is not None else None


class CloudTrail:
    """The management events CloudTrail would record for the Clean Rooms writes the sandbox serves (and for
    out-of-band writes, with an identity the test chooses), answered by LookupEvents, which moto 5.2.5 does
    not implement. Requests the sandbox serves are recorded as made by `arn:aws:iam::ACCOUNT:user/sandbox`,
    or, signed with an assumed role's keys, by that account's `cleanrooms-reconciler` role session."""

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []

    def reset(self) -> None:
        self._events.clear()

    def record(
        self,
        name: str,
        account: str,
        region: str,
        membership_arn: str,
        identity: str,
        user_agent: str,
        source_ip: str = "127.0.0.1",
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        session = identity.rsplit("/", 1)[-1] if ":assumed-role/" in identity else None
        detail = {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole" if session else "IAMUser",
                "arn": identity,
                "accountId": account,
                **({"sessionContext": {"sessionIssuer": {"arn": identity}}} if session else {}),
            },
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "eventSource": "cleanrooms.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": source_ip,
            "userAgent": user_agent,
            "requestParameters": dict(parameters or {}),
        }
        self._events.append(
            {
                "EventId": f"{len(self._events) + 1:08d}-0000-4000-8000-000000000000",
                "EventName": name,
                "ReadOnly": "false",
                "EventTime": time.time(),
                "EventSource": "cleanrooms.amazonaws.com",
                "Username": session or identity.rsplit("/", 1)[-1],
                "Resources": [{"ResourceType": "AWS::CleanRooms::Membership", "ResourceName": membership_arn}],
                "CloudTrailEvent": json.dumps(detail),
                "_where": (account, region),
            }
        )

    def lookup(self, account: str, region: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One LookupEvents page: newest first, one lookup attribute (EventSource only), 1 to 50 a page."""
        attributes = body.get("LookupAttributes") or []
        if len(attributes) > 1:
            raise service_error(400, "Only one lookup attribute is allowed", "InvalidLookupAttributesException")
        wanted = {(a.get("AttributeKey"), a.get("AttributeValue")) for a in attributes}
        start, end = float(body.get("StartTime") or 0), float(body.get("EndTime") or time.time() + 1)
        size = int(body.get("MaxResults") or 50)
        if not 1 <= size <= 50:
            raise service_error(400, "MaxResults must be 1 to 50", "InvalidMaxResultsException")
        found = [
            {k: v for k, v in event.items() if k != "_where"}
            for event in reversed(self._events)
            if event["_where"] == (account, region)
            and start <= event["EventTime"] <= end
            and all(key != "EventSource" or value == event["EventSource"] for key, value in wanted)
        ]
        offset = int(body.get("NextToken") or 0)
        page = found[offset : offset + size]
        more = offset + size < len(found)
        return {"Events": page, **({"NextToken": str(offset + size)} if more else {})}
