"""Every request the endpoint answered, for tests to assert on (out-of-band writes are not requests)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


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
    account: str = ""  # the caller's account and region: a quota is per account and region
    region: str = ""


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, operation: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self._entries if operation is None or r.operation == operation]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
