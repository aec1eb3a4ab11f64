"""What the core needs from AWS, without boto3: the gateway protocol and the errors it raises.

`edges/aws/client.py` implements the protocol with boto3; tests and the applier depend only on this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

# Called right before a write's request goes out (see Gateway.update_membership).
OnSend = Callable[[], None] | None

# ASCII only (see models.py): a label is printed, hashed and put in hidden Markdown markers.
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"

# CloudTrail's name for the Clean Rooms API: what drift's attribution looks events up by.
EVENT_SOURCE = "cleanrooms.amazonaws.com"

# How --target, `targets` and saved plans name the account of files that carry no accountId (the caller's).
DEFAULT_ACCOUNT = "default"


@dataclass(frozen=True, order=True)
class Where:
    """Where a membership lives: a region, and the account whose role to assume (None: our own)."""

    region: str
    account: str | None = None

    def __str__(self) -> str:
        return f"{self.account}/{self.region}" if self.account else self.region

    @property
    def label(self) -> str:
        """`ACCOUNT/REGION`, with `default` for the caller's own account: what --target takes."""
        return f"{self.account or DEFAULT_ACCOUNT}/{self.region}"

    @classmethod
    def parse(cls, label: str) -> Where:
        """The inverse of `label`; ValueError when it is not ACCOUNT/REGION."""
        account, _, region = label.partition("/")
        known = account == DEFAULT_ACCOUNT or re.fullmatch(ACCOUNT_ID_PATTERN, account)
        if not (known and re.fullmatch(REGION_PATTERN, region)):
            raise ValueError(
                f"{label!r}: expected ACCOUNT/REGION: a 12-digit account (`{DEFAULT_ACCOUNT}` for files without "
                "accountId) and a region like us-east-1"
            )
        return cls(region, None if account == DEFAULT_ACCOUNT else account)


@dataclass
class AwsError(Exception):
    """A failed call, translated: what was called, for which membership, and what AWS said."""

    operation: str
    membership_id: str | None
    code: str
    message: str
    status: int | None = None
    reason: str | None = None
    request_id: str | None = None
    # A 429 the rate controller found among refusals that are not about our pace (they came as often when
    # it slowed down): resending soon is as good as waiting, so the retry's backoff does not grow.
    at_random: bool = False

    def __str__(self) -> str:
        parts = [f"{self.operation} {self.membership_id or ''}".strip() + f": {self.code}"]
        if self.reason:
            parts.append(f"reason {self.reason}")
        if self.message:
            parts.append(self.message)
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        return "; ".join(parts)

    @property
    def not_found(self) -> bool:
        return self.code == "ResourceNotFoundException"

    @property
    def outcome_unknown(self) -> bool:
        """The request may have been applied: a timeout, a dropped connection or a 5xx after sending."""
        return self.status is None or self.status >= 500


@dataclass(frozen=True)
class Page:
    """One ListMemberships answer: its summaries, and the token for the next page (None: the last)."""

    summaries: Sequence[Mapping[str, Any]]
    next_token: str | None = None


class MembershipReader(Protocol):
    """The read-only calls: all that plan and drift need, and all a read-only IAM role allows.

    Listing is one call per page, so that each page is paced, judged by the breaker and retried alone.
    """

    def get_membership(self, where: Where, membership_id: str) -> Mapping[str, Any]: ...

    def list_memberships(self, where: Where, status: str | None, next_token: str | None) -> Page: ...

    def list_members(self, where: Where, collaboration_id: str, next_token: str | None) -> Page:
        """One ListMembers page: the collaboration's members, each with the payment the creator designated."""
        ...

    def list_tags(self, where: Where, arn: str) -> Mapping[str, str]:
        """ListTagsForResource: every tag of the membership `arn`, AWS's own included."""
        ...

    def list_collaborations(self, where: Where, next_token: str | None) -> Page:
        """One ListCollaborations page: the collaborations the account is invited to or a member of."""
        ...

    def lookup_events(self, where: Where, start: datetime, end: datetime, next_token: str | None) -> Page:
        """One CloudTrail LookupEvents page (at most 50) of the Clean Rooms events between start and end."""
        ...


class Gateway(MembershipReader, Protocol):
    """Clean Rooms membership calls. Implementations raise AwsError only."""

    def update_membership(
        self, where: Where, membership_id: str, fields: Mapping[str, Any], on_send: OnSend = None
    ) -> tuple[Mapping[str, Any], str | None]:
        """The membership after the change, and the request id (for the audit log). `on_send` is called
        right before the request goes out, and never for a call refused before it (the breaker, a stop):
        the audit log's `sent` line stands for a request, not an intention."""
        ...

    def create_membership(
        self, where: Where, request: Mapping[str, Any], on_send: OnSend = None
    ) -> tuple[Mapping[str, Any], str | None]:
        """CreateMembership (join a collaboration): the membership created, and the request id."""
        ...

    def tag_resource(self, where: Where, arn: str, tags: Mapping[str, str], on_send: OnSend = None) -> str | None:
        """TagResource: add or overwrite these tags; the request id. `on_send` as for update_membership."""
        ...

    def untag_resource(self, where: Where, arn: str, keys: Sequence[str], on_send: OnSend = None) -> str | None:
        """UntagResource: remove these tag keys; the request id."""
        ...


class ReadOnly:
    """A reader over a gateway with no way to write: `drift` gets this, so it cannot call UpdateMembership."""

    def __init__(self, inner: MembershipReader) -> None:
        self._inner = inner

    def get_membership(self, where: Where, membership_id: str) -> Mapping[str, Any]:
        return self._inner.get_membership(where, membership_id)

    def list_memberships(self, where: Where, status: str | None, next_token: str | None) -> Page:
        return self._inner.list_memberships(where, status, next_token)

    def list_members(self, where: Where, collaboration_id: str, next_token: str | None) -> Page:
        return self._inner.list_members(where, collaboration_id, next_token)

    def list_tags(self, where: Where, arn: str) -> Mapping[str, str]:
        return self._inner.list_tags(where, arn)

    def list_collaborations(self, where: Where, next_token: str | None) -> Page:
        return self._inner.list_collaborations(where, next_token)

    def lookup_events(self, where: Where, start: datetime, end: datetime, next_token: str | None) -> Page:
        return self._inner.lookup_events(where, start, end, next_token)


def membership_of(arn: str) -> str:
    """The membership id at the end of a membership ARN (arn:aws:cleanrooms:REGION:ACCOUNT:membership/ID)."""
    return arn.rsplit("/", 1)[-1]
