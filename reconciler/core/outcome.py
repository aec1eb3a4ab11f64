"""What became of one planned change when apply ran: the value the report, the receipt and the exit status
are made from."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .api import AwsError
from .plan import MembershipChange


class Status(Enum):
    APPLIED = "applied"
    CONVERGED = "converged"  # nothing left to send when (re)read: someone else, or an earlier try, did it
    FAILED = "failed"
    STALE = "stale"
    NOT_STARTED = "not started"


@dataclass(frozen=True)
class Outcome:
    change: MembershipChange
    status: Status
    sent: tuple[str, ...] = ()  # fields written by a request that succeeded
    attempts: int = 0  # UpdateMembership calls made
    message: str = ""
    error: AwsError | None = None

    @property
    def ok(self) -> bool:
        return self.status in (Status.APPLIED, Status.CONVERGED)

    def describe(self) -> str:
        m = self.change
        name = m.membershipIdentifier or f"join of {m.join.collaborationIdentifier if m.join else ''}"
        head = f"{self.status.value}: {name} ({m.source}, {m.region})"
        if self.sent:
            head += f" fields {', '.join(self.sent)}"
        detail = self.message or (str(self.error) if self.error else "")
        return f"{head}: {detail}" if detail else head
