"""A Gateway whose every call goes through the RateController of its account and region (ratelimit.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from ...core.api import AwsError, Gateway, OnSend, Page, Where, membership_of
from .ratelimit import RateController

T = TypeVar("T")

# CloudTrail's LookupEvents allows two requests per second per account and region (its model says so): a
# pace of its own, apart from the Clean Rooms calls' controller, a little under the limit.
LOOKUP_INTERVAL = 0.55


class Interval:
    """At most one call per `seconds` per account and region: each caller waits for its own slot."""

    def __init__(
        self,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._seconds = seconds
        self._clock, self._sleep = clock, sleep
        self._next: dict[Where, float] = {}
        self._lock = threading.Lock()

    def wait(self, where: Where) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(where, now))
            self._next[where] = slot + self._seconds
        if slot > now:
            self._sleep(slot - now)


class LimitedGateway:
    """A Gateway whose every call goes through the RateController of its account and region."""

    def __init__(self, inner: Gateway, make_controller: Callable[[], RateController] = RateController) -> None:
        self._inner = inner
        self._make = make_controller
        self._controllers: dict[Where, RateController] = {}
        self._lock = threading.Lock()
        self.lookups = Interval(LOOKUP_INTERVAL)

    def controller(self, where: Where) -> RateController:
        with self._lock:
            if where not in self._controllers:
                self._controllers[where] = self._make()
            return self._controllers[where]

    def _paced(self, where: Where, operation: str, call: Callable[[], T], membership_id: str | None = None) -> T:
        controller = self.controller(where)
        sent = controller.acquire(operation, membership_id)
        try:
            result = call()
        except AwsError as error:
            controller.release(operation, sent, error)
            raise
        except BaseException:
            controller.abandon()
            raise
        controller.release(operation, sent, None)
        return result

    def get_membership(self, where: Where, membership_id: str) -> Mapping[str, Any]:
        return self._paced(
            where, "GetMembership", lambda: self._inner.get_membership(where, membership_id), membership_id
        )

    def list_memberships(self, where: Where, status: str | None, next_token: str | None) -> Page:
        return self._paced(where, "ListMemberships", lambda: self._inner.list_memberships(where, status, next_token))

    def list_members(self, where: Where, collaboration_id: str, next_token: str | None) -> Page:
        return self._paced(where, "ListMembers", lambda: self._inner.list_members(where, collaboration_id, next_token))

    def update_membership(
        self, where: Where, membership_id: str, fields: Mapping[str, Any], on_send: OnSend = None
    ) -> tuple[Mapping[str, Any], str | None]:
        return self._paced(
            where,
            "UpdateMembership",
            lambda: self._inner.update_membership(where, membership_id, fields, on_send),
            membership_id,
        )

    def list_collaborations(self, where: Where, next_token: str | None) -> Page:
        return self._paced(where, "ListCollaborations", lambda: self._inner.list_collaborations(where, next_token))

    def create_membership(
        self, where: Where, request: Mapping[str, Any], on_send: OnSend = None
    ) -> tuple[Mapping[str, Any], str | None]:
        return self._paced(where, "CreateMembership", lambda: self._inner.create_membership(where, request, on_send))

    def list_tags(self, where: Where, arn: str) -> Mapping[str, str]:
        return self._paced(where, "ListTagsForResource", lambda: self._inner.list_tags(where, arn), membership_of(arn))

    def tag_resource(self, where: Where, arn: str, tags: Mapping[str, str], on_send: OnSend = None) -> str | None:
        return self._paced(
            where, "TagResource", lambda: self._inner.tag_resource(where, arn, tags, on_send), membership_of(arn)
        )

    def untag_resource(self, where: Where, arn: str, keys: Sequence[str], on_send: OnSend = None) -> str | None:
        return self._paced(
            where, "UntagResource", lambda: self._inner.untag_resource(where, arn, keys, on_send), membership_of(arn)
        )

    def lookup_events(self, where: Where, start: datetime, end: datetime, next_token: str | None) -> Page:
        self.lookups.wait(where)
        return self._inner.lookup_events(where, start, end, next_token)
