"""A circuit breaker over the gateway: once the endpoint is clearly down, stop starting calls.

"Clearly down" is a run of calls that got no answer at all (a timeout, a refused or dropped connection)
with no success in between; an error answer (4xx, 5xx) is an answer and resets nothing. Without it, each
membership would spend its own retries on a dead endpoint: minutes per membership, hours for a large plan.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from ...core.api import AwsError, Gateway, OnSend, Page, Where
from ...core.errors import EndpointUnavailable

T = TypeVar("T")

# Three in a row: one lost answer is a blip and two may be a slow restart, but three with nothing in
# between, at the default 3 s connect / 10 s read timeouts, is a dead endpoint.
DEFAULT_THRESHOLD = 3


class Breaker:
    def __init__(self, inner: Gateway, threshold: int = DEFAULT_THRESHOLD) -> None:
        self._inner = inner
        self._threshold = threshold
        self._lock = threading.Lock()
        self._silent = 0
        self._open: str | None = None  # the message, once tripped

    def _guard(self) -> None:
        with self._lock:
            if self._open is not None:
                raise EndpointUnavailable(self._open)

    def _heard(self, error: AwsError | None) -> None:
        """After each call: None for a success; an error counts only when no answer came at all."""
        if error is not None and error.status is not None:
            return
        with self._lock:
            if error is None:
                self._silent = 0
                return
            self._silent += 1
            if self._silent >= self._threshold and self._open is None:
                self._open = (
                    f"the Clean Rooms endpoint did not answer {self._silent} calls in a row "
                    f"({error.code}: {error.message}); no new calls were started"
                )
            message = self._open
        if message is not None:
            raise EndpointUnavailable(message) from error

    def _call(self, call: Callable[[], T]) -> T:
        self._guard()
        try:
            result = call()
        except AwsError as error:
            self._heard(error)
            raise
        self._heard(None)
        return result

    def get_membership(self, where: Where, membership_id: str) -> Mapping[str, Any]:
        return self._call(lambda: self._inner.get_membership(where, membership_id))

    def list_memberships(self, where: Where, status: str | None, next_token: str | None) -> Page:
        return self._call(lambda: self._inner.list_memberships(where, status, next_token))

    def list_members(self, where: Where, collaboration_id: str, next_token: str | None) -> Page:
        return self._call(lambda: self._inner.list_members(where, collaboration_id, next_token))

    def list_tags(self, where: Where, arn: str) -> Mapping[str, str]:
        return self._call(lambda: self._inner.list_tags(where, arn))

    def list_collaborations(self, where: Where, next_token: str | None) -> Page:
        return self._call(lambda: self._inner.list_collaborations(where, next_token))

    def lookup_events(self, where: Where, start: datetime, end: datetime, next_token: str | None) -> Page:
        return self._call(lambda: self._inner.lookup_events(where, start, end, next_token))

    def create_membership(
        self, where: Where, request: Mapping[str, Any], on_send: OnSend = None
    ) -> tuple[Mapping[str, Any], str | None]:
        return self._call(lambda: self._inner.create_membership(where, request, on_send))

    def tag_resource(self, where: Where, arn: str, tags: Mapping[str, str], on_send: OnSend = None) -> str | None:
        return self._call(lambda: self._inner.tag_resource(where, arn, tags, on_send))

    def untag_resource(self, where: Where, arn: str, keys: Sequence[str], on_send: OnSend = None) -> str | None:
        return self._call(lambda: self._inner.untag_resource(where, arn, keys, on_send))

    def update_membership(
        self, where: Where, membership_id: str, fields: Mapping[str, Any], on_send: OnSend = None
    ) -> tuple[Mapping[str, Any], str | None]:
        return self._call(lambda: self._inner.update_membership(where, membership_id, fields, on_send))
