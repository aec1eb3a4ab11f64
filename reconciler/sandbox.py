"""A local AWS Clean Rooms endpoint for the tests and `reconciler demo`: no AWS account, no network.

moto's `cleanrooms` backend (moto >= 5.2.5) holds the collaborations and memberships and serves every
route; this module puts a WSGI layer in front of it, served over HTTP on 127.0.0.1, that

* completes what moto 5.2.5 lacks, so the reconciler meets the service's behaviour rather than moto's gaps:
  its UpdateMembership applies only `queryLogStatus`, its CreateMembership drops `jobLogStatus` and
  `defaultJobResultConfiguration`, it ignores the ListMemberships `status` filter, never checks enums and
  never refuses to update a membership that is not ACTIVE;
* lets a test set a membership's status to REMOVED or COLLABORATION_DELETED;
* injects faults per operation (a scripted sequence or a share of 429 / 409 / 500 answers, a 409 preceded
  by a concurrent write, a 500 after the write was applied), added latency and a server-side rate limit;
* keeps a request log (method, path, body, status) that tests assert on.

moto is an optional extra (`pip install cleanrooms-reconciler[sandbox]`): only this module imports it.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

try:
    from moto.cleanrooms.models import CleanRoomsBackend, Membership, cleanrooms_backends
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.core.utils import unix_time
    from moto.iam.models import get_account_id_from
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from waitress.server import BaseWSGIServer, create_server
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the local Clean Rooms endpoint needs moto: pip install 'cleanrooms-reconciler[sandbox]'"
    ) from exc

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

DEFAULT_REGION = "us-east-1"
ACCOUNT_ID: str = DEFAULT_ACCOUNT_ID
LOG_STATUSES = ("ENABLED", "DISABLED")
LOG_FIELDS = ("queryLogStatus", "jobLogStatus")
RESULT_FORMATS = ("CSV", "PARQUET")
ABILITIES_ALL = ("CAN_QUERY", "CAN_RECEIVE_RESULTS", "CAN_RUN_JOB")

_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"^/memberships/?$"), "ListMemberships"),
    ("POST", re.compile(r"^/memberships/?$"), "CreateMembership"),
    ("GET", re.compile(r"^/memberships/(?P<id>[^/]+)$"), "GetMembership"),
    ("PATCH", re.compile(r"^/memberships/(?P<id>[^/]+)$"), "UpdateMembership"),
    ("DELETE", re.compile(r"^/memberships/(?P<id>[^/]+)$"), "DeleteMembership"),
    ("POST", re.compile(r"^/collaborations/?$"), "CreateCollaboration"),
)
_ERROR_NAMES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    409: "ConflictException",
    429: "ThrottlingException",
    500: "InternalServerException",
}
_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/]+)/\d+/(?P<region>[^/]+)/")


@dataclass(frozen=True)
class Fault:
    """One injected answer. `concurrent_write` is applied to the membership just before answering, as if
    someone else wrote it; `after_apply` processes the request first, so the client cannot know it worked.
    A status below 400 with `after_apply` answers normally, showing the concurrent write too."""

    status: int
    reason: str | None = None
    concurrent_write: Mapping[str, Any] | None = None
    after_apply: bool = False

    @property
    def error_code(self) -> str:
        """The error's name; for a success after a concurrent write, a label for the request log."""
        if self.status < 400:
            return "ConcurrentWrite"
        return _ERROR_NAMES.get(self.status, "InternalServerException")


THROTTLE = Fault(429)
CONFLICT = Fault(409, reason="INVALID_STATE")
SERVER_ERROR = Fault(500)


@dataclass
class _FaultRule:
    operation: str
    sequence: list[Fault | None]
    rate: float
    fault: Fault
    membership_id: str | None

    def matches(self, operation: str, membership_id: str | None) -> bool:
        return self.operation in (operation, "*") and self.membership_id in (None, membership_id)


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    operation: str
    membership_id: str | None
    body: Any
    status: int
    fault: str | None
    time: float


@dataclass
class _TokenBucket:
    rate: float
    burst: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class _ServiceError(Exception):
    def __init__(self, status: int, body: Mapping[str, Any], code: str | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.body = dict(body)
        self.code = code


def _error(status: int, message: str, code: str | None = None, **extra: Any) -> _ServiceError:
    return _ServiceError(
        status,
        {"message": message, **{k: v for k, v in extra.items() if v is not None}},
        code or _ERROR_NAMES.get(status, "InternalServerException"),
    )


class CleanRoomsSandbox:
    """moto's Clean Rooms behind a completing, fault-injecting, logging WSGI layer on 127.0.0.1."""

    def __init__(self, seed: int = 0) -> None:
        self._moto: WsgiApp = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.RLock()
        self._random = random.Random(seed)
        self._rules: list[_FaultRule] = []
        self._latency: dict[str, float] = {}
        self._bucket: _TokenBucket | None = None
        self._log_delay = 0.0
        self._pending_logs: dict[tuple[str, str], tuple[Any, float]] = {}
        self._log: list[LoggedRequest] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.account_id = ACCOUNT_ID

    # -- serving -------------------------------------------------------------------------------------

    def start(self) -> CleanRoomsSandbox:
        # waitress rather than werkzeug's development server: it keeps connections alive, as the real
        # endpoint does, where werkzeug closes each one, so every call would pay for a new connection and a
        # new server thread, and benchmarks would measure that instead of the client. The pool is large
        # because injected latency holds a thread per request.
        self._server = create_server(self, host="127.0.0.1", port=0, threads=64, ident="cleanrooms-sandbox")
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> CleanRoomsSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://127.0.0.1:{self._server.effective_port}"

    def client_env(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """Environment for a subprocess (the CLI) that talks to this endpoint and nothing else."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "AKIASANDBOXEXAMPLE00",
            "AWS_SECRET_ACCESS_KEY": "sandbox-secret",
            "AWS_DEFAULT_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

    # -- seeding and state ---------------------------------------------------------------------------

    def backend(self, region: str = DEFAULT_REGION, account_id: str | None = None) -> CleanRoomsBackend:
        return cleanrooms_backends[account_id or self.account_id][region]

    def reset(self) -> None:
        with self._lock:
            for regions in cleanrooms_backends.values():
                for backend in regions.values():
                    backend.collaborations.clear()
                    backend.memberships.clear()
            self._rules.clear()
            self._latency.clear()
            self._bucket = None
            self._log_delay = 0.0
            self._pending_logs.clear()
            self._log.clear()

    def create_membership(
        self,
        collaboration_name: str = "sandbox-collaboration",
        *,
        region: str = DEFAULT_REGION,
        abilities: Sequence[str] = ABILITIES_ALL,
        queryLogStatus: str = "DISABLED",
        jobLogStatus: str | None = None,
        defaultResultConfiguration: Mapping[str, Any] | None = None,
        defaultJobResultConfiguration: Mapping[str, Any] | None = None,
        status: str = "ACTIVE",
        account_id: str | None = None,
    ) -> str:
        """Seed one collaboration with one membership of ours in it; returns the membership id."""
        with self._lock:
            backend = self.backend(region, account_id)
            collaboration = backend.create_collaboration(
                name=collaboration_name,
                description=f"{collaboration_name} (sandbox)",
                creator_display_name="sandbox",
                creator_member_abilities=list(abilities),
                query_log_status=queryLogStatus,
                members=[],
                data_encryption_metadata=None,
                analytics_engine="SPARK",
                tags=None,
            )
            membership = backend.create_membership(
                collaboration_identifier=collaboration.id,
                query_log_status=queryLogStatus,
                payment_configuration=None,
                default_result_configuration=_copy(defaultResultConfiguration),
                tags=None,
            )
            _apply(
                membership,
                {
                    "jobLogStatus": jobLogStatus,
                    "defaultJobResultConfiguration": defaultJobResultConfiguration,
                },
            )
            membership.status = status
            return str(membership.id)

    def membership(
        self, membership_id: str, region: str = DEFAULT_REGION, account_id: str | None = None
    ) -> dict[str, Any]:
        with self._lock:
            return _full(self.backend(region, account_id).get_membership(membership_id))

    def set_status(
        self, membership_id: str, status: str, region: str = DEFAULT_REGION, account_id: str | None = None
    ) -> None:
        with self._lock:
            self.backend(region, account_id).get_membership(membership_id).status = status

    def write(
        self,
        membership_id: str,
        fields: Mapping[str, Any],
        region: str = DEFAULT_REGION,
        account_id: str | None = None,
    ) -> None:
        """An out-of-band change (the console, another tool): not logged as a request."""
        with self._lock:
            _apply(self.backend(region, account_id).get_membership(membership_id), fields)

    # -- faults, latency, rate limit ----------------------------------------------------------------

    def inject(
        self,
        operation: str,
        *,
        sequence: Sequence[Fault | None] = (),
        rate: float = 0.0,
        fault: Fault = THROTTLE,
        membership_id: str | None = None,
    ) -> None:
        """Answer `operation` ("*" for all) first with `sequence` (None lets a request through), then with
        `fault` for a `rate` share of requests, chosen by the sandbox's seeded random generator."""
        with self._lock:
            self._rules.append(_FaultRule(operation, list(sequence), rate, fault, membership_id))

    def reseed(self, seed: int) -> None:
        """Make the share-based faults repeatable from here on."""
        with self._lock:
            self._random.seed(seed)

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    def set_latency(self, seconds: float, operations: Iterable[str] = ("*",)) -> None:
        with self._lock:
            for operation in operations:
                self._latency[operation] = seconds

    def set_log_propagation_delay(self, seconds: float) -> None:
        """Like the service, show a query/job logging change only `seconds` after it was made."""
        with self._lock:
            self._log_delay = seconds

    def set_rate_limit(self, per_second: float | None, burst: float | None = None) -> None:
        """Answer 429 beyond `per_second` requests (a token bucket, as the service's quotas behave)."""
        with self._lock:
            if per_second is None:
                self._bucket = None
            else:
                capacity = burst or per_second
                self._bucket = _TokenBucket(per_second, capacity, capacity)

    # -- request log ---------------------------------------------------------------------------------

    def requests(self, operation: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self._log if operation is None or r.operation == operation]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # -- WSGI ----------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        operation, membership_id = _classify(method, path)
        body = _json_or_none(raw)
        region, account = self._caller(environ)

        delay = self._latency.get(operation, self._latency.get("*", 0.0))
        if delay:
            time.sleep(delay)
        fault = self._next_fault(operation, membership_id)
        try:
            if fault is not None and not fault.after_apply:
                self._concurrent_write(fault, membership_id, region, account)
                raise self._fault_answer(fault, membership_id)
            status, headers, payload = self._handle(operation, membership_id, environ, body, query, region, account)
            if fault is not None:
                self._concurrent_write(fault, membership_id, region, account)
                if fault.status >= 400:
                    raise self._fault_answer(fault, membership_id)
                if membership_id:
                    # A success answered after someone else's write: the caller sees both.
                    with self._lock:
                        seen = self._as_seen(self._get(region, account, membership_id))
                    payload = json.dumps({"membership": seen}).encode()
        except _ServiceError as answer:
            status = answer.status
            headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", answer.code or "")]
            payload = json.dumps(answer.body).encode()
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers += [("Content-Length", str(len(payload))), ("x-amzn-RequestId", str(uuid.uuid4()))]
        with self._lock:
            self._log.append(
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
                )
            )
        start_response(f"{status} {_reason_phrase(status)}", headers)
        return [payload]

    def _concurrent_write(self, fault: Fault, membership_id: str | None, region: str, account: str) -> None:
        if fault.concurrent_write and membership_id:
            self.write(membership_id, fault.concurrent_write, region, account)

    def _caller(self, environ: dict[str, Any]) -> tuple[str, str]:
        # The same account resolution as moto's own responses, so our handlers see the backend moto uses.
        match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        region = match.group("region") if match else DEFAULT_REGION
        account = os.environ.get("MOTO_ACCOUNT_ID") or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
        if not account:
            account = get_account_id_from(match.group("key")) if match else self.account_id
        return region, account

    def _next_fault(self, operation: str, membership_id: str | None) -> Fault | None:
        with self._lock:
            limited = operation.endswith("Membership") or operation == "ListMemberships"
            if limited and self._bucket is not None and not self._bucket.take():
                return THROTTLE
            for rule in self._rules:
                if not rule.matches(operation, membership_id):
                    continue
                if rule.sequence:
                    return rule.sequence.pop(0)
                if rule.rate and self._random.random() < rule.rate:
                    return rule.fault
        return None

    @staticmethod
    def _fault_answer(fault: Fault, membership_id: str | None) -> _ServiceError:
        messages = {
            429: "Rate exceeded",
            409: "The membership was modified concurrently; retry",
            500: "Internal server error",
        }
        extra: dict[str, Any] = {"reason": fault.reason}
        if fault.status == 409:
            extra |= {"resourceId": membership_id, "resourceType": "MEMBERSHIP"}
        return _error(fault.status, messages.get(fault.status, "Injected fault"), fault.error_code, **extra)

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
        if operation == "GetMembership" and membership_id:
            with self._lock:
                membership = self._get(region, account, membership_id)
                return _ok({"membership": self._as_seen(membership)})
        if operation == "UpdateMembership" and membership_id:
            return _ok({"membership": self._update(region, account, membership_id, body or {})})
        status, headers, payload = self._forward(environ)
        if status >= 300:
            return status, headers, payload
        if operation == "CreateMembership":
            with self._lock:
                created = json.loads(payload)["membership"]
                membership = self._get(region, account, created["id"])
                _apply(
                    membership,
                    {k: (body or {}).get(k) for k in ("jobLogStatus", "defaultJobResultConfiguration")},
                )
                return _ok({"membership": _full(membership)})
        if operation == "ListMemberships":
            wanted = parse_qs(query).get("status")
            if wanted:
                page = json.loads(payload)
                page["membershipSummaries"] = [s for s in page["membershipSummaries"] if s.get("status") in wanted]
                return _ok(page)
        return status, headers, payload

    def _forward(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *_: object) -> None:
            captured["status"], captured["headers"] = int(status.split(maxsplit=1)[0]), headers

        chunks = self._moto(environ, start_response)
        payload = b"".join(chunks)
        return captured["status"], captured["headers"], payload

    def _get(self, region: str, account: str, membership_id: str) -> Membership:
        memberships = cleanrooms_backends[account][region].memberships
        if membership_id not in memberships:
            raise _error(
                404,
                f"Could not find membership with id {membership_id}",
                resourceId=membership_id,
                resourceType="MEMBERSHIP",
            )
        return memberships[membership_id]

    def _update(self, region: str, account: str, membership_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            membership = self._get(region, account, membership_id)
            if membership.status != "ACTIVE":
                # Assumption: the service refuses with a permanent 400, not a retryable 409.
                raise _error(
                    400,
                    f"Membership {membership_id} is {membership.status}; only an ACTIVE membership can be updated",
                    reason="INVALID_CONFIGURATION",
                )
            _check_update(body)
            self._remember_logging(membership, body)
            _apply(membership, body)
            return self._as_seen(membership)

    def _remember_logging(self, membership: Membership, body: Mapping[str, Any]) -> None:
        if not self._log_delay:
            return
        seen = _full(membership)
        for name in LOG_FIELDS:
            if name in body and body[name] != seen.get(name):
                self._pending_logs[(membership.id, name)] = (seen.get(name), time.monotonic() + self._log_delay)

    def _as_seen(self, membership: Membership) -> dict[str, Any]:
        """The membership as a caller sees it: a logging change still propagating shows its old value."""
        data = _full(membership)
        now = time.monotonic()
        for (membership_id, name), (old, until) in list(self._pending_logs.items()):
            if membership_id == membership.id and now < until:
                data[name] = old
        return data


def _check_update(body: Mapping[str, Any]) -> None:
    # The service's own checks on the fields we send: enums and required members (moto has none).
    for name in ("queryLogStatus", "jobLogStatus"):
        if name in body and body[name] not in LOG_STATUSES:
            raise _error(400, f"Invalid {name}: {body[name]!r}", reason="FIELD_VALIDATION_FAILED")
    query = body.get("defaultResultConfiguration")
    if query is not None:
        s3 = (query.get("outputConfiguration") or {}).get("s3") or {}
        if s3.get("resultFormat") not in RESULT_FORMATS or not s3.get("bucket"):
            raise _error(400, "Invalid defaultResultConfiguration", reason="FIELD_VALIDATION_FAILED")
    job = body.get("defaultJobResultConfiguration")
    if job is not None and (not job.get("roleArn") or not (job.get("outputConfiguration") or {}).get("s3")):
        raise _error(400, "Invalid defaultJobResultConfiguration", reason="FIELD_VALIDATION_FAILED")


_ATTRIBUTES = {
    "queryLogStatus": "query_log_status",
    "jobLogStatus": "job_log_status",
    "defaultResultConfiguration": "default_result_configuration",
    "defaultJobResultConfiguration": "default_job_result_configuration",
}


def _apply(membership: Membership, fields: Mapping[str, Any]) -> None:
    # PATCH semantics: a field left out (or None here) stays as it is; a nested object is replaced whole.
    changed = False
    for name, attribute in _ATTRIBUTES.items():
        if fields.get(name) is not None:
            setattr(membership, attribute, _copy(fields[name]))
            changed = True
    if changed:
        membership.update_time = unix_time()


def _full(membership: Membership) -> dict[str, Any]:
    data: dict[str, Any] = membership.to_dict()
    extra = {
        "jobLogStatus": getattr(membership, "job_log_status", None),
        "defaultJobResultConfiguration": getattr(membership, "default_job_result_configuration", None),
    }
    data |= {k: _copy(v) for k, v in extra.items() if v is not None}
    if "defaultResultConfiguration" in data:
        data["defaultResultConfiguration"] = _copy(data["defaultResultConfiguration"])
    return data


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value)) if value is not None else None


def _ok(body: Mapping[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    return 200, [("Content-Type", "application/json")], json.dumps(body).encode()


def _classify(method: str, path: str) -> tuple[str, str | None]:
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


def _reason_phrase(status: int) -> str:
    return {
        200: "OK",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        429: "Too Many Requests",
        500: "Internal Server Error",
    }.get(status, "Status")
