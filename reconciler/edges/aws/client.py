"""The AWS edge: the only module that imports boto3.

One client per account and region, botocore's retries off (`total_max_attempts=1`: ours are the only retries, so a
write is never resent blindly after an unknown outcome), explicit timeouts, and every botocore error
translated into `AwsError` with the membership, code, reason and request id.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError
from botocore.loaders import Loader, create_loader

from ...core.api import EVENT_SOURCE, AwsError, Gateway, OnSend, Page, Where, membership_of
from ...core.errors import ConfigurationError
from ...core.retry import DEADLINE_CODE, time_left
from .breaker import Breaker
from .paced import LimitedGateway
from .ratelimit import RateController

if TYPE_CHECKING:
    from mypy_boto3_cleanrooms import CleanRoomsServiceClient

T = TypeVar("T")

# GetMembership answers in well under a second and UpdateMembership in a few; a call that has not answered
# in 10 s is treated as lost (the breaker and the retry layer decide what follows), so a dead endpoint ends
# a command in seconds rather than minutes.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
# The read timeout is per read: an endpoint that trickles a byte at a time never trips it. So a call also
# has a budget for all of it, at most this, and at most what its --retry-deadline leaves. Three such calls
# in a row trip the breaker: a command facing an endpoint that never answers in full ends within 60 s.
CALL_BUDGET = 15.0
MIN_BUDGET = 0.1
# The AWS services whose models botocore loads here: the ones called, and those of the credential chain
# (assume role, SSO, console sign-in). The action keeps only these in the environment it caches (botocore
# ships the models of every service: 2,000 files that would otherwise make every restore slower).
SERVICES = ("cleanrooms", "cloudtrail", "sts")
CREDENTIAL_SERVICES = ("sso", "sso-oidc", "signin")


class AwsGateway:
    """Clean Rooms membership calls through boto3. The session is passed in, never made here.

    With `assume_role_template` (e.g. `arn:aws:iam::{accountId}:role/cleanrooms-reconciler`), a membership
    whose file names an `accountId` is reached through that account's role; otherwise through `session`.
    """

    def __init__(
        self,
        session: boto3.Session,
        *,
        max_connections: int = 10,
        endpoint_url: str | None = None,
        assume_role_template: str | None = None,
    ) -> None:
        # endpoint_url: None follows the AWS chain (AWS_ENDPOINT_URL, config files, the real service).
        self._session = session
        self._endpoint_url = endpoint_url
        self._template = assume_role_template
        self._config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            max_pool_connections=max(10, max_connections),
            user_agent_extra="cleanrooms-reconciler",
        )
        self._credentials: dict[str, dict[str, str]] = {}
        self._clients: dict[tuple[str, Where], Any] = {}
        self._sts: Any = None  # the STS client, made on the first role to assume
        # Clients come from the one session (a new session per account would build its client classes
        # again, ~12 ms each), and making them is not thread-safe: one lock. Assuming a role is a call, so
        # each account has its own lock and a hundred accounts assume their roles side by side.
        self._lock = threading.Lock()
        self._account_locks: dict[str, threading.Lock] = {}

    def _credentials_for(self, account: str) -> dict[str, str]:
        with self._lock:
            lock = self._account_locks.setdefault(account, threading.Lock())
            if self._sts is None:
                self._sts = self._session.client("sts", config=self._config, endpoint_url=self._endpoint_url)
            sts = self._sts
        with lock:
            if account not in self._credentials:
                assert self._template is not None
                role_arn = self._template.format(accountId=account)
                response = _translated(
                    "AssumeRole",
                    None,
                    lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="cleanrooms-reconciler"),
                )
                credentials = _part(response, "Credentials", "AssumeRole", None)
                self._credentials[account] = {
                    "aws_access_key_id": credentials["AccessKeyId"],
                    "aws_secret_access_key": credentials["SecretAccessKey"],
                    "aws_session_token": credentials["SessionToken"],
                }
            return self._credentials[account]

    def _client(self, where: Where) -> CleanRoomsServiceClient:
        client: CleanRoomsServiceClient = self._service_client("cleanrooms", where)
        return client

    def _service_client(self, service: str, where: Where) -> Any:
        assert service in SERVICES, service  # the action's environment has no other model
        key = where if self._template else Where(where.region)
        client = self._clients.get((service, key))
        if client is not None:
            return client
        credentials = self._credentials_for(key.account) if key.account else {}
        with self._lock:
            if (service, key) not in self._clients:
                self._clients[(service, key)] = self._session.client(
                    service,  # type: ignore[call-overload]  # cleanrooms, or cloudtrail for attribution
                    region_name=key.region,
                    config=self._config,
                    endpoint_url=self._endpoint_url,
                    aws_access_key_id=credentials.get("aws_access_key_id"),
                    aws_secret_access_key=credentials.get("aws_secret_access_key"),
                    aws_session_token=credentials.get("aws_session_token"),
                )
            return self._clients[(service, key)]

    def lookup_events(self, where: Where, start: datetime, end: datetime, next_token: str | None) -> Page:
        arguments: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": EVENT_SOURCE}],
            "StartTime": start,
            "EndTime": end,
            "MaxResults": 50,
            **({"NextToken": next_token} if next_token else {}),
        }
        trail = self._service_client("cloudtrail", where)
        answer = _translated("LookupEvents", None, lambda: trail.lookup_events(**arguments))
        return Page(_part(answer, "Events", "LookupEvents", None, list), answer.get("NextToken"))

    def get_membership(self, where: Where, membership_id: str) -> Mapping[str, Any]:
        return _translated(
            "GetMembership",
            membership_id,
            lambda: _part(
                self._client(where).get_membership(membershipIdentifier=membership_id),
                "membership",
                "GetMembership",
                membership_id,
            ),
        )

    def list_memberships(self, where: Where, status: str | None, next_token: str | None) -> Page:
        arguments: dict[str, Any] = {"status": status} if status else {}
        if next_token:
            arguments["nextToken"] = next_token
        answer = _translated("ListMemberships", None, lambda: self._client(where).list_memberships(**arguments))
        return Page(_part(answer, "membershipSummaries", "ListMemberships", None, list), answer.get("nextToken"))

    def list_members(self, where: Where, collaboration_id: str, next_token: str | None) -> Page:
        arguments: dict[str, Any] = {"collaborationIdentifier": collaboration_id}
        if next_token:
            arguments["nextToken"] = next_token
        answer = _translated("ListMembers", None, lambda: self._client(where).list_members(**arguments))
        return Page(_part(answer, "memberSummaries", "ListMembers", None, list), answer.get("nextToken"))

    def list_collaborations(self, where: Where, next_token: str | None) -> Page:
        arguments: dict[str, Any] = {"nextToken": next_token} if next_token else {}
        answer = _translated("ListCollaborations", None, lambda: self._client(where).list_collaborations(**arguments))
        return Page(_part(answer, "collaborationList", "ListCollaborations", None, list), answer.get("nextToken"))

    def create_membership(
        self, where: Where, request: Mapping[str, Any], on_send: OnSend = None
    ) -> tuple[Mapping[str, Any], str | None]:
        send = self._write(where, on_send, lambda client: client.create_membership(**request))
        response = _translated("CreateMembership", None, send)
        return _part(response, "membership", "CreateMembership", None), _request_id(response)

    def list_tags(self, where: Where, arn: str) -> Mapping[str, str]:
        answer = _translated(
            "ListTagsForResource",
            membership_of(arn),
            lambda: self._client(where).list_tags_for_resource(resourceArn=arn),
        )
        return _part(answer, "tags", "ListTagsForResource", membership_of(arn))  # type: ignore[no-any-return]

    def tag_resource(self, where: Where, arn: str, tags: Mapping[str, str], on_send: OnSend = None) -> str | None:
        send = self._write(where, on_send, lambda client: client.tag_resource(resourceArn=arn, tags=dict(tags)))
        return _request_id(_translated("TagResource", membership_of(arn), send))

    def untag_resource(self, where: Where, arn: str, keys: Sequence[str], on_send: OnSend = None) -> str | None:
        send = self._write(where, on_send, lambda client: client.untag_resource(resourceArn=arn, tagKeys=list(keys)))
        return _request_id(_translated("UntagResource", membership_of(arn), send))

    def _write(self, where: Where, on_send: OnSend, call: Callable[[CleanRoomsServiceClient], T]) -> Callable[[], T]:
        def send() -> T:
            client = self._client(where)  # may assume a role: a call of its own, not this write
            if on_send is not None:
                on_send()
            return call(client)

        return send

    def update_membership(
        self, where: Where, membership_id: str, fields: Mapping[str, Any], on_send: OnSend = None
    ) -> tuple[Mapping[str, Any], str | None]:
        send = self._write(
            where, on_send, lambda client: client.update_membership(membershipIdentifier=membership_id, **fields)
        )
        response = _translated("UpdateMembership", membership_id, send)
        membership = _part(response, "membership", "UpdateMembership", membership_id)
        return membership, _request_id(response)


def _request_id(response: Any) -> str | None:
    request_id = response.get("ResponseMetadata", {}).get("RequestId") if isinstance(response, Mapping) else None
    return str(request_id) if request_id else None


def _translated(operation: str, membership_id: str | None, call: Callable[[], T]) -> T:
    try:
        return _within_budget(operation, membership_id, call)
    except ClientError as exc:
        response: Mapping[str, Any] = exc.response
        error = response.get("Error", {})
        metadata = response.get("ResponseMetadata", {})
        raise AwsError(
            operation=operation,
            membership_id=membership_id,
            code=str(error.get("Code", "Unknown")),
            message=str(error.get("Message", "")),
            status=metadata.get("HTTPStatusCode"),
            reason=response.get("reason") or error.get("reason"),
            request_id=metadata.get("RequestId"),
        ) from exc
    except (ConnectionError, HTTPClientError) as exc:
        # Timeouts and dropped connections: the request may or may not have reached the service.
        raise AwsError(operation, membership_id, type(exc).__name__, str(exc), status=None) from exc
    except BotoCoreError as exc:
        # Credentials, region or parameter problems found before sending: nothing reached AWS.
        raise AwsError(operation, membership_id, type(exc).__name__, str(exc), status=0) from exc


def _part(answer: Any, key: str, operation: str, membership_id: str | None, kind: type = dict) -> Any:
    """`answer[key]`, or, when the endpoint's answer lacks it (an empty or cut-off body), an error that
    counts as no answer: a write's outcome is then unknown, and is read before anything is resent."""
    part = answer.get(key) if isinstance(answer, Mapping) else None
    if not isinstance(part, kind):
        raise AwsError(operation, membership_id, "MalformedResponse", f"the endpoint's answer has no {key}", None)
    return part


def _within_budget(operation: str, membership_id: str | None, call: Callable[[], T]) -> T:
    """`call` in a thread of its own, waited for at most the call's budget. One that is still running then is
    left to finish in the background (a daemon thread: it never holds the process) and counts as a call
    that got no answer, which is what it is: its outcome is unknown, and the breaker counts it."""
    left = time_left()
    if left is not None and left < MIN_BUDGET:
        # Sent now, it could only time out: it is not sent, and nothing is learnt of the endpoint.
        raise AwsError(operation, membership_id, DEADLINE_CODE, "its --retry-deadline passed before it was sent", 0)
    budget = CALL_BUDGET if left is None else min(CALL_BUDGET, left)
    outcome: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # handed to the waiting caller, which raises it
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name=f"aws-{operation}", daemon=True).start()
    if not done.wait(budget):
        message = f"the endpoint did not answer in full within {budget:.1f} s (it may still be answering)"
        raise AwsError(operation, membership_id, "CallTimeout", message, status=None)
    if failure:
        raise failure[0]
    return outcome[0]


@functools.cache
def _shared_loader() -> Loader:
    return create_loader()


def _botocore_session() -> botocore.session.Session:
    # One loader for every session: each new session would otherwise parse the service model and endpoint
    # rules again (~45 ms), once per assumed account and once per in-process run.
    session = botocore.session.get_session()
    session.register_component("data_loader", _shared_loader())
    return session


def make_session(profile: str | None, region: str | None) -> boto3.Session:
    return boto3.Session(profile_name=profile, region_name=region, botocore_session=_botocore_session())


def connect(
    profile: str | None, region: str | None, parallelism: int, assume_role_template: str | None, deadline: float
) -> tuple[Gateway, str | None]:
    """The gateway every command calls AWS through, and the region the AWS configuration names; `deadline`
    is --retry-deadline, after which a service that refused every call is no longer called."""
    try:
        session = make_session(profile, region)
    except BotoCoreError as exc:
        raise ConfigurationError(f"AWS configuration: {exc}") from exc
    aws = AwsGateway(session, max_connections=parallelism, assume_role_template=assume_role_template)
    # The breaker inside the pacing: a call that waited for its turn is checked when its turn comes, so once
    # the endpoint is found dead, the queued calls end at once instead of each timing out.
    gateway = LimitedGateway(Breaker(aws), lambda: RateController(max_concurrency=parallelism, give_up_after=deadline))
    return gateway, session.region_name
