"""An invitation to a collaboration: what a join creates its membership in, and what drift lists when no file
joins it. Pure: no AWS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Invitation:
    """A collaboration the account is invited to and has not joined (ListCollaborations, memberStatus INVITED):
    what a join creates the membership in, and what `drift --report-unmanaged` lists when no file joins it."""

    collaborationIdentifier: str
    collaborationName: str
    creatorAccountId: str
    creatorDisplayName: str
    region: str
    accountId: str | None = None
    invitedAt: str = ""

    @property
    def invited_by(self) -> str:
        return f"invited by {self.creatorDisplayName}, account {self.creatorAccountId}"

    def __str__(self) -> str:
        since = f" since {self.invitedAt}" if self.invitedAt else ""
        where = f"{self.accountId}/{self.region}" if self.accountId else self.region
        named = f"collaboration {self.collaborationName} ({self.collaborationIdentifier})"
        return f"{named}, {self.invited_by}{since} ({where})"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any], region: str, account: str | None) -> Invitation:
        created: Any = summary.get("createTime") or ""
        return cls(
            summary["id"],
            str(summary.get("name", "")),
            str(summary.get("creatorAccountId", "")),
            str(summary.get("creatorDisplayName", "")),
            region,
            account,
            created.isoformat() if hasattr(created, "isoformat") else str(created),
        )
