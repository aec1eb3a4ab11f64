"""An in-memory Clean Rooms gateway for unit tests: memberships as dicts, scripted errors, a call log.

It implements the Gateway protocol from reconciler.api, the network boundary, so the applier, reader and
operations run unchanged against it, in milliseconds. The HTTP endpoint (reconciler.sandbox) stays the
double for end-to-end tests."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.core.api import AwsError, OnSend, Page, Where, membership_of

ACCOUNT = "111122223333"
ABILITIES = ("CAN_QUERY", "CAN_RECEIVE_RESULTS", "CAN_RUN_JOB")


def throttled(operation: str = "UpdateMembership", membership_id: str | None = None) -> AwsError:
    return AwsError(operation, membership_id, "ThrottlingException", "Rate exceeded", 429)


def conflict(reason: str | None = "INVALID_STATE", membership_id: str | None = None) -> AwsError:
    return AwsError("UpdateMembership", membership_id, "ConflictException", "modified concurrently", 409, reason)


def server_error(operation: str = "UpdateMembership", membership_id: str | None = None) -> AwsError:
    return AwsError(operation, membership_id, "InternalServerException", "Internal error", 500)


def invalid(reason: str = "INVALID_CONFIGURATION") -> AwsError:
    return AwsError("UpdateMembership", None, "ValidationException", "invalid", 400, reason)


@dataclass(frozen=True)
class Scripted:
    """One scripted answer: an error (None: answer normally), a concurrent write someone else makes just
    before, and whether the call is applied before the error is raised (an unknown outcome)."""

    error: AwsError | None = None
    concurrent_write: Mapping[str, Any] | None = None
    after_apply: bool = False


@dataclass
class FakeGateway:
    memberships: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str | None, dict[str, Any] | None]] = field(default_factory=list)
    script: dict[str, list[Scripted]] = field(default_factory=dict)
    page_size: int = 100
    # (collaborationId, account) -> the payment the collaboration's creator designated (ListMembers).
    designations: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # membership id -> its tags (ListTagsForResource), AWS's own included.
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    # collaboration id -> its ListCollaborations summary (memberStatus, membershipId once joined).
    collaborations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # CloudTrail's Clean Rooms events, newest first (LookupEvents), one page.
    events: list[dict[str, Any]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add(
        self,
        *,
        status: str = "ACTIVE",
        account: str = ACCOUNT,
        region: str = "us-east-1",
        collaboration: str = "acme",
        abilities: tuple[str, ...] = ABILITIES,
        **settings: Any,
    ) -> str:
        membership_id = f"00000000-0000-4000-8000-{next(self._ids):012d}"
        self.memberships[membership_id] = {
            "id": membership_id,
            "arn": f"arn:aws:cleanrooms:{region}:{account}:membership/{membership_id}",
            "collaborationName": collaboration,
            "collaborationId": f"collab-{collaboration}",
            "status": status,
            "memberAbilities": list(abilities),
            **copy.deepcopy(settings),
        }
        return membership_id

    def then(self, operation: str, *answers: Scripted | AwsError | None) -> None:
        """Answer the next calls of `operation` with these, in order; then answer normally."""
        queue = self.script.setdefault(operation, [])
        queue += [a if isinstance(a, Scripted) else Scripted(a) for a in answers]

    def writes(self) -> list[dict[str, Any] | None]:
        return [body for operation, _, body in self.calls if operation == "UpdateMembership"]

    def operations(self) -> list[str]:
        return [operation for operation, _, _ in self.calls]

    def _answer(self, operation: str, membership_id: str | None) -> Scripted:
        queue = self.script.get(operation) or []
        answer = queue.pop(0) if queue else Scripted()
        if answer.concurrent_write and membership_id in self.memberships:
            self.memberships[membership_id].update(copy.deepcopy(dict(answer.concurrent_write)))
        return answer

    def _get(self, operation: str, membership_id: str) -> dict[str, Any]:
        if membership_id not in self.memberships:
            raise AwsError(operation, membership_id, "ResourceNotFoundException", "not found", 404)
        return self.memberships[membership_id]

    def get_membership(self, where: Where, membership_id: str) -> Mapping[str, Any]:
        self.calls.append(("GetMembership", membership_id, None))
        answer = self._answer("GetMembership", membership_id)
        if answer.error is not None:
            raise answer.error
        return copy.deepcopy(self._get("GetMembership", membership_id))

    def list_memberships(self, where: Where, status: str | None, next_token: str | None) -> Page:
        self.calls.append(("ListMemberships", None, None))
        answer = self._answer("ListMemberships", None)
        if answer.error is not None:
            raise answer.error
        chosen = [m for m in self.memberships.values() if status is None or m["status"] == status]
        start = int(next_token or 0)
        summaries = [
            {k: m[k] for k in ("id", "arn", "collaborationName", "status")}
            for m in chosen[start : start + self.page_size]
        ]
        more = start + self.page_size < len(chosen)
        return Page(summaries, str(start + self.page_size) if more else None)

    def list_members(self, where: Where, collaboration_id: str, next_token: str | None) -> Page:
        self.calls.append(("ListMembers", collaboration_id, None))
        answer = self._answer("ListMembers", None)
        if answer.error is not None:
            raise answer.error
        return Page(
            [
                {"accountId": account, "paymentConfiguration": copy.deepcopy(payment)}
                for (collaboration, account), payment in self.designations.items()
                if collaboration == collaboration_id
            ]
        )

    def update_membership(
        self, where: Where, membership_id: str, fields: Mapping[str, Any], on_send: OnSend = None
    ) -> tuple[Mapping[str, Any], str | None]:
        if on_send is not None:
            on_send()
        self.calls.append(("UpdateMembership", membership_id, copy.deepcopy(dict(fields))))
        answer = self._answer("UpdateMembership", membership_id)
        if answer.error is not None and not answer.after_apply:
            raise answer.error
        membership = self._get("UpdateMembership", membership_id)
        written = copy.deepcopy(dict(fields))
        if "membershipPaymentConfiguration" in written:  # GetMembership's name for it differs
            written["paymentConfiguration"] = written.pop("membershipPaymentConfiguration")
        membership.update(written)
        if answer.error is not None:
            raise answer.error
        return copy.deepcopy(membership), f"request-{len(self.calls)}"

    def list_tags(self, where: Where, arn: str) -> Mapping[str, str]:
        membership_id = membership_of(arn)
        self.calls.append(("ListTagsForResource", membership_id, None))
        answer = self._answer("ListTagsForResource", membership_id)
        if answer.error is not None:
            raise answer.error
        return dict(self.tags.get(membership_id, {}))

    def tag_resource(self, where: Where, arn: str, tags: Mapping[str, str], on_send: OnSend = None) -> str | None:
        return self._tagging("TagResource", arn, {"tags": dict(tags)}, on_send)

    def untag_resource(self, where: Where, arn: str, keys: Sequence[str], on_send: OnSend = None) -> str | None:
        return self._tagging("UntagResource", arn, {"tagKeys": list(keys)}, on_send)

    def _tagging(self, operation: str, arn: str, body: dict[str, Any], on_send: OnSend) -> str | None:
        if on_send is not None:
            on_send()
        membership_id = membership_of(arn)
        self.calls.append((operation, membership_id, copy.deepcopy(body)))
        answer = self._answer(operation, membership_id)
        if answer.error is not None and not answer.after_apply:
            raise answer.error
        now = self.tags.setdefault(membership_id, {})
        now.update(body.get("tags", {}))
        for key in body.get("tagKeys", []):
            now.pop(key, None)
        if answer.error is not None:
            raise answer.error
        return f"request-{len(self.calls)}"

    def list_collaborations(self, where: Where, next_token: str | None) -> Page:
        self.calls.append(("ListCollaborations", None, None))
        answer = self._answer("ListCollaborations", None)
        if answer.error is not None:
            raise answer.error
        return Page([copy.deepcopy(summary) for summary in self.collaborations.values()])

    def create_membership(
        self, where: Where, request: Mapping[str, Any], on_send: OnSend = None
    ) -> tuple[Mapping[str, Any], str | None]:
        if on_send is not None:
            on_send()
        self.calls.append(("CreateMembership", None, copy.deepcopy(dict(request))))
        answer = self._answer("CreateMembership", None)
        if answer.error is not None and not answer.after_apply:
            raise answer.error
        summary = self.collaborations[request["collaborationIdentifier"]]
        settings = {k: v for k, v in request.items() if k not in ("collaborationIdentifier", "tags")}
        membership_id = self.add(collaboration=summary["name"], **settings)
        summary |= {"memberStatus": "ACTIVE", "membershipId": membership_id}
        if answer.error is not None:
            raise answer.error
        return copy.deepcopy(self.memberships[membership_id]), f"request-{len(self.calls)}"

    def lookup_events(self, where: Where, start: datetime, end: datetime, next_token: str | None) -> Page:
        self.calls.append(("LookupEvents", None, None))
        answer = self._answer("LookupEvents", None)
        if answer.error is not None:
            raise answer.error
        return Page(copy.deepcopy(self.events))
