"""A local AWS Clean Rooms endpoint for the tests and `reconciler demo`: no AWS account, no network.

moto's `cleanrooms` backend (moto >= 5.2.5) holds the collaborations and memberships; in front of it, served
over HTTP on 127.0.0.1 by waitress:

* `emulation.py` completes what moto lacks (and only that, so it can shrink as moto catches up);
* `faults.py` injects 429 / 409 / 500 answers, concurrent writes, latency and a rate limit;
* `requestlog.py` keeps every request for tests to assert on;
* `server.py` routes requests through all three and moto.

`CleanRoomsSandbox` is the facade tests and the demo use. moto is an optional extra
(`pip install cleanrooms-reconciler[sandbox]`): only this package imports it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

try:
    from moto.cleanrooms.models import CleanRoomsBackend, cleanrooms_backends
    from moto.core.models import DEFAULT_ACCOUNT_ID
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the local Clean Rooms endpoint needs moto: pip install 'cleanrooms-reconciler[sandbox]'"
    ) from exc

from . import emulation
from .emulation import CloudTrail, Designations, LogPropagation
from .faults import CONFLICT, SERVER_ERROR, THROTTLE, Fault, Faults
from .requestlog import LoggedRequest, RequestLog
from .server import DEFAULT_REGION, Endpoint, Server

__all__ = [
    "ABILITIES_ALL",
    "ACCOUNT_ID",
    "CONFLICT",
    "DEFAULT_REGION",
    "SERVER_ERROR",
    "THROTTLE",
    "CleanRoomsSandbox",
    "Fault",
    "LoggedRequest",
]

ACCOUNT_ID: str = DEFAULT_ACCOUNT_ID
ABILITIES_ALL = ("CAN_QUERY", "CAN_RECEIVE_RESULTS", "CAN_RUN_JOB")


class CleanRoomsSandbox:
    """moto's Clean Rooms behind a completing, fault-injecting, logging endpoint on 127.0.0.1."""

    def __init__(self, seed: int = 0, account_id: str = ACCOUNT_ID) -> None:
        self.account_id = account_id
        self._lock = threading.RLock()
        self._faults = Faults(seed)
        self._log = RequestLog()
        self._propagation = LogPropagation()
        self._designations = Designations()
        self._trail = CloudTrail()
        self._endpoint = Endpoint(
            account_id, self._faults, self._log, self._propagation, self._lock, self._designations, self._trail
        )
        self._server: Server | None = None
        # Faults, latency and the rate limit (see faults.py), and the request log, as the facade's own:
        # inject(operation, sequence=[...], rate=0.5, fault=THROTTLE, membership_id=...) answers
        # `operation` ("*" for all) first with `sequence` (None lets a request through), then with `fault`
        # for a `rate` share of requests, chosen by the seeded random generator (`reseed` repeats it).
        self.inject = self._faults.inject
        self.reseed = self._faults.reseed
        self.clear_faults = self._faults.clear
        self.set_latency = self._faults.set_latency
        self.set_rate_limit = self._faults.set_rate_limit
        self.refuse_for = self._faults.refuse_for
        self.requests = self._log.entries
        self.clear_requests = self._log.clear

    # -- serving -------------------------------------------------------------------------------------

    def start(self) -> CleanRoomsSandbox:
        self._server = Server(self._endpoint)
        return self

    def stop(self) -> None:
        # Taken under the lock: a test that stops the endpoint from a timer (a dead endpoint) races the
        # `with` block's own stop, and closing one server twice fails on its closed descriptors.
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()

    def __enter__(self) -> CleanRoomsSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return self._server.url

    def client_env(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """Environment for a client (the CLI) that talks to this endpoint and nothing else."""
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
                    backend.tagger.tags.clear()
            self._faults.reset()
            self._propagation.reset()
            self._designations.reset()
            self._trail.reset()
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
        tags: Mapping[str, str] | None = None,
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
                default_result_configuration=emulation.copy(defaultResultConfiguration),
                tags=dict(tags) if tags else None,
            )
            fields = {"jobLogStatus": jobLogStatus, "defaultJobResultConfiguration": defaultJobResultConfiguration}
            emulation.apply_fields(membership, fields)
            membership.status = status
            return str(membership.id)

    def invite(
        self,
        collaboration_name: str = "invited-collaboration",
        *,
        account_id: str | None = None,
        region: str = DEFAULT_REGION,
        creator_account: str = "999988887777",
        creator_name: str = "Globex",
        payment: Mapping[str, Any] | None = None,
    ) -> str:
        """An invitation to another account's collaboration: ListCollaborations shows it INVITED until the
        account joins (CreateMembership); `payment` is what the creator designated this member to pay for
        (ListMembers). Returns the collaboration id."""
        account = account_id or self.account_id
        with self._lock:
            collaboration = self.backend(region, account).create_collaboration(
                name=collaboration_name,
                description=f"{collaboration_name} (sandbox invitation)",
                creator_display_name=creator_name,
                creator_member_abilities=["CAN_QUERY"],
                query_log_status="ENABLED",
                members=[{"accountId": account, "memberAbilities": list(ABILITIES_ALL), "displayName": "us"}],
                data_encryption_metadata=None,
                analytics_engine="SPARK",
                tags=None,
            )
            emulation.invited(collaboration, creator_account, creator_name)
            self._designations.set(collaboration.id, account, payment or {"queryCompute": {"isResponsible": False}})
            return str(collaboration.id)

    def collaboration(
        self, collaboration_id: str, region: str = DEFAULT_REGION, account_id: str | None = None
    ) -> dict[str, Any]:
        """The collaboration as the account sees it (ListCollaborations' summary): memberStatus, membershipId."""
        with self._lock:
            summary = self.backend(region, account_id).get_collaboration(collaboration_id).to_summary_dict()
            return dict(summary)

    def membership(
        self, membership_id: str, region: str = DEFAULT_REGION, account_id: str | None = None
    ) -> dict[str, Any]:
        with self._lock:
            return emulation.full(self.backend(region, account_id).get_membership(membership_id))

    def tags(self, membership_id: str, region: str = DEFAULT_REGION, account_id: str | None = None) -> dict[str, str]:
        with self._lock:
            backend = self.backend(region, account_id)
            return dict(backend.list_tags_for_resource(backend.get_membership(membership_id).arn))

    def set_tags(
        self,
        membership_id: str,
        tags: Mapping[str, str],
        region: str = DEFAULT_REGION,
        account_id: str | None = None,
    ) -> None:
        """Out-of-band tagging (the console, another tool, AWS itself for `aws:` keys): replaces the set."""
        with self._lock:
            backend = self.backend(region, account_id)
            arn = backend.get_membership(membership_id).arn
            backend.untag_resource(arn, list(backend.list_tags_for_resource(arn)))
            if tags:
                backend.tag_resource(arn, dict(tags))

    def set_status(
        self, membership_id: str, status: str, region: str = DEFAULT_REGION, account_id: str | None = None
    ) -> None:
        with self._lock:
            self.backend(region, account_id).get_membership(membership_id).status = status

    def designate(
        self,
        membership_id: str,
        payment: Mapping[str, Any],
        region: str = DEFAULT_REGION,
        account_id: str | None = None,
    ) -> None:
        """What the creator of the membership's collaboration designated this member to pay for, as
        ListMembers shows it (`{"queryCompute": {"isResponsible": false}, "jobCompute": ...}`)."""
        with self._lock:
            membership = self.backend(region, account_id).get_membership(membership_id)
            self._designations.set(membership.collaboration_id, account_id or self.account_id, payment)

    def set_log_propagation_delay(self, seconds: float) -> None:
        """Like the service, show a query/job logging change only `seconds` after it was made."""
        with self._lock:
            self._propagation.delay = seconds

    def write(
        self,
        membership_id: str,
        fields: Mapping[str, Any],
        region: str = DEFAULT_REGION,
        account_id: str | None = None,
        by: str | None = None,
        user_agent: str = "AWS Internal",
        source_ip: str = "203.0.113.7",
    ) -> None:
        """An out-of-band change (the console, another tool): not logged as a request. With `by` (a principal
        ARN), CloudTrail records it as that principal's UpdateMembership, from `source_ip` with `user_agent`."""
        account = account_id or self.account_id
        self._endpoint.write(region, account, membership_id, dict(fields))
        if by is not None:
            with self._lock:
                arn = self.backend(region, account).get_membership(membership_id).arn
                parameters = {"membershipIdentifier": membership_id, **fields}
                self._trail.record("UpdateMembership", account, region, arn, by, user_agent, source_ip, parameters)
