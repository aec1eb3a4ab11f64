"""The WSGI layer in front of moto, served by waitress on 127.0.0.1: routing, faults, emulation, logging."""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from moto.cleanrooms.models import Membership, cleanrooms_backends
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.iam.models import get_account_id_from
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sts.models import sts_backends
from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

from . import emulation
from .emulation import CloudTrail, Designations, LogPropagation, ServiceError, service_error
from .faults import Fault, Faults
from .requestlog import LoggedRequest, RequestLog

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

DEFAULT_REGION = "us-east-1"

_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"^/memberships/?$"), "ListMemberships"),
    ("POST", re.compile(r"^/memberships/?$"), "CreateMembership"),
    ("GET", re.compile(r"^/memberships/(?P<id>[^/]+)$"), "GetMembership"),
    ("PATCH", re.compile(r"^/memberships/(?P<id>[^/]+)$"), "UpdateMembership"),
    ("DELETE", re.compile(r"^/memberships/(?P<id>[^/]+)$"), "DeleteMembership"),
    ("POST", re.compile(r"^/collaborations/?$"), "CreateCollaboration"),
    ("GET", re.compile(r"^/collaborations/?$"), "ListCollaborations"),
    ("GET", re.compile(r"^/collaborations/(?P<id>[^/]+)/members$"), "ListMembers"),
    # The membership id at the end of the ARN, so that faults can be aimed at one membership's tag calls.
    ("GET", re.compile(r"^/tags/arn:[^/]*:membership/(?P<id>[^/]+)$"), "ListTagsForResource"),
    ("POST", re.compile(r"^/tags/arn:[^/]*:membership/(?P<id>[^/]+)$"), "TagResource"),
    ("DELETE", re.compile(r"^/tags/arn:[^/]*:membership/(?P<id>[^/]+)$"), "UntagResource"),
)
# The writes CloudTrail records (the sandbox's emulation of it).
_RECORDED = frozenset({"UpdateMembership", "CreateMembership", "TagResource", "UntagResource"})
_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/]+)/\d+/(?P<region>[^/]+)/")
_FAULT_MESSAGES = {429: "Rate exceeded", 409: "The membership was modified concurrently; retry", 500: "Internal error"}
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
_REASONS |= {429: "Too Many Requests", 500: "Internal Server Error"}


class Endpoint:
    """The WSGI application: each request gets its fault (if any), moto's answer completed by emulation.py,
    and a line in the request log."""

    def __init__(
        self,
        account_id: str,
        faults: Faults,
        log: RequestLog,
        propagation: LogPropagation,
        lock: threading.RLock,
        designations: Designations,
        trail: CloudTrail,
    ) -> None:
        self._moto: WsgiApp = DomainDispatcherApplication(create_backend_app)
        self.account_id = account_id
        self.designations = designations
        self.trail = trail
        self.faults = faults
        self.log = log
        self.propagation = propagation
        self.lock = lock

    def membership(self, region: str, account: str, membership_id: str) -> Membership:
        memberships = cleanrooms_backends[account][region].memberships
        if membership_id not in memberships:
            raise service_error(
                404,
                f"Could not find membership with id {membership_id}",
                resourceId=membership_id,
                resourceType="MEMBERSHIP",
            )
        return memberships[membership_id]

    def write(self, region: str, account: str, membership_id: str, fields: dict[str, Any]) -> None:
        with self.lock:
            emulation.apply_fields(self.membership(region, account, membership_id), fields)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        operation, membership_id = _route(method, path)
        if method == "POST" and environ.get("HTTP_X_AMZ_TARGET", "").endswith(".LookupEvents"):
            operation = "LookupEvents"
        body = _json_or_none(raw)
        region, account = self._caller(environ)

        delay = self.faults.latency(operation)
        if delay:
            time.sleep(delay)
        fault = self.faults.next(operation, membership_id, (account, region))
        try:
            if fault is not None and not fault.after_apply:
                self._concurrent_write(fault, membership_id, region, account)
                raise _fault_answer(fault, membership_id)
            status, headers, payload = self._handle(operation, membership_id, environ, body, query, region, account)
            if status < 300 and operation in _RECORDED:
                self._record(operation, environ, body, payload, region, account)
            if fault is not None:
                self._concurrent_write(fault, membership_id, region, account)
                if fault.status >= 400:
                    raise _fault_answer(fault, membership_id)
                if membership_id:
                    # A success answered after someone else's write: the caller sees both.
                    with self.lock:
                        seen = self.propagation.as_seen(self.membership(region, account, membership_id))
                    payload = json.dumps({"membership": seen}).encode()
        except ServiceError as answer:
            status = answer.status
            headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", answer.code or "")]
            # CloudTrail speaks AWS's JSON protocol, whose clients read the error's name from the body.
            named = {"__type": answer.code} if operation == "LookupEvents" else {}
            payload = json.dumps({**answer.body, **named}).encode()
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers += [("Content-Length", str(len(payload))), ("x-amzn-RequestId", str(uuid.uuid4()))]
        self.log.append(
            LoggedRequest(
                method,
                path,
                query,
                operation,
                membership_id,
                body,
                status,
                fault.error_code if fault else None,
                time.time(),
                account,
                region,
            )
        )
        start_response(f"{status} {_REASONS.get(status, 'Status')}", headers)
        return [payload]

    def _record(
        self, operation: str, environ: dict[str, Any], body: Any, payload: bytes, region: str, account: str
    ) -> None:
        """The CloudTrail event of a write the sandbox served, made by whoever signed it."""
        path = environ.get("PATH_INFO", "")
        arn = path.removeprefix("/tags/") if path.startswith("/tags/") else json.loads(payload)["membership"]["arn"]
        parameters = {"membershipIdentifier": arn.rsplit("/", 1)[-1], **(body if isinstance(body, dict) else {})}
        if operation == "UntagResource":
            parameters["tagKeys"] = parse_qs(environ.get("QUERY_STRING", "")).get("tagKeys", [])
        key = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        assumed = sts_backends[account]["global"].get_assumed_role_from_access_key(key.group("key")) if key else None
        identity = assumed.arn if assumed else f"arn:aws:iam::{account}:user/sandbox"
        agent = environ.get("HTTP_USER_AGENT", "")
        self.trail.record(operation, account, region, arn, identity, agent, parameters=parameters)

    def _concurrent_write(self, fault: Fault, membership_id: str | None, region: str, account: str) -> None:
        if fault.concurrent_write and membership_id:
            self.write(region, account, membership_id, dict(fault.concurrent_write))

    def _caller(self, environ: dict[str, Any]) -> tuple[str, str]:
        """The caller's region and account: an x-moto-account-id header, else the account whose assumed-role
        keys signed the request, else the sandbox's own. moto is told the same, so it and our handlers agree."""
        match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        region = match.group("region") if match else DEFAULT_REGION
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
        if not account:
            by_key = get_account_id_from(match.group("key")) if match else DEFAULT_ACCOUNT_ID
            account = self.account_id if by_key == DEFAULT_ACCOUNT_ID else by_key
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = account
        return region, account

    def _handle(
        self,
        operation: str,
        membership_id: str | None,
        environ: dict[str, Any],
        body: Any,
        query: str,
        region: str,
        account: str,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        if operation == "LookupEvents":
            with self.lock:
                return _ok(self.trail.lookup(account, region, body or {}))
        if operation == "GetMembership" and membership_id:
            with self.lock:
                return _ok({"membership": self.propagation.as_seen(self.membership(region, account, membership_id))})
        if operation == "UpdateMembership" and membership_id:
            with self.lock:
                membership = self.membership(region, account, membership_id)
                emulation.refuse_inactive(membership)
                emulation.check_update(body or {})
                wanted = (body or {}).get("membershipPaymentConfiguration")
                self.designations.refuse_contrary(membership.collaboration_id, account, wanted)
                self.propagation.remember(membership, body or {})
                emulation.apply_fields(membership, body or {})
                return _ok({"membership": self.propagation.as_seen(membership)})
        if operation == "CreateMembership":
            return self._join(environ, body or {}, region, account)
        status, headers, payload = self._forward(environ)
        if status >= 300:
            return status, headers, payload
        if operation == "ListMembers" and membership_id:  # the route's id is the collaboration's here
            with self.lock:
                return _ok(self.designations.members(json.loads(payload), membership_id))
        if operation == "ListMemberships":
            wanted = parse_qs(query).get("status")
            if wanted:
                return _ok(emulation.filter_by_status(json.loads(payload), wanted))
        return status, headers, payload

    def _join(
        self, environ: dict[str, Any], body: dict[str, Any], region: str, account: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        with self.lock:
            collaboration = cleanrooms_backends[account][region].collaborations.get(
                str(body.get("collaborationIdentifier"))
            )
            if collaboration is not None:
                emulation.refuse_second_join(collaboration)
                self.designations.refuse_contrary(collaboration.id, account, body.get("paymentConfiguration"))
            status, headers, payload = self._forward(environ)
            if status >= 300:
                return status, headers, payload
            created = self.membership(region, account, json.loads(payload)["membership"]["id"])
            later = (*emulation.JOB_FIELDS, *emulation.CREATE_ONLY)
            emulation.apply_fields(created, {k: body.get(k) for k in later})
            return _ok({"membership": emulation.full(created)})

    def _forward(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *_: object) -> None:
            captured["status"], captured["headers"] = int(status.split(maxsplit=1)[0]), headers

        payload = b"".join(self._moto(environ, start_response))
        return captured["status"], captured["headers"], payload


class Server:
    """waitress on 127.0.0.1, on a free port, in a daemon thread."""

    def __init__(self, app: Endpoint) -> None:
        # waitress rather than werkzeug's development server: it keeps connections alive, as the real
        # endpoint does, where werkzeug closes each one, so every call would pay for a new connection and a
        # new server thread, and benchmarks would measure that instead of the client. The pool is large
        # because injected latency holds a thread per request; the connection limit is high because a client
        # keeps connections alive per account and region (a hundred targets, a pool each).
        self._server: BaseWSGIServer = create_server(
            app, host="127.0.0.1", port=0, threads=64, connection_limit=4000, ident="sandbox"
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.effective_port}"

    def close(self) -> None:
        # The serving loop runs while any connection is open, and clients keep theirs alive: close them all
        # (the listening socket and the loop's trigger too), in the loop's own thread, woken by its trigger:
        # a descriptor closed from here while that thread waits in select() fails it with EBADF.
        self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._server._map))
        self._thread.join(timeout=5)
        # And its worker threads, which close() leaves waiting for tasks: a test that starts and stops
        # endpoints by the hundred would otherwise run out of threads.
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)


def _fault_answer(fault: Fault, membership_id: str | None) -> ServiceError:
    extra: dict[str, Any] = {"reason": fault.reason}
    if fault.status == 409:
        extra |= {"resourceId": membership_id, "resourceType": "MEMBERSHIP"}
    return service_error(fault.status, _FAULT_MESSAGES.get(fault.status, "Injected fault"), fault.error_code, **extra)


def _ok(body: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    return 200, [("Content-Type", "application/json")], json.dumps(body).encode()


def _route(method: str, path: str) -> tuple[str, str | None]:
    for route_method, pattern, operation in _ROUTES:
        match = pattern.match(path)
        if match and method == route_method:
            return operation, match.groupdict().get("id")
    return f"{method} {path}", None


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
