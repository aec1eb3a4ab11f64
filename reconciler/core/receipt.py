"""The receipt of one apply run (`apply --receipt FILE`): what was reviewed, what was applied, and how each
membership's write went, from the plan, the outcomes and the audit records. Pure: no I/O, no AWS.

Every apply run leaves one, refused runs included, so a merged pull request can always be matched to what
happened in production: the commit, the pull request, the reviewed and the applied changes hash, and per
membership the fields before and after, the outcome, the request ids and when the writes were made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .outcome import Outcome
    from .plan import Plan

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Context:
    """Where the apply ran: filled from the workflow's variables and the command's options."""

    commit: str | None = None
    pull_request: int | None = None
    run_url: str | None = None
    target: str | None = None
    reviewed_hash: str | None = None


@dataclass
class Collector:
    """An audit sink that keeps every record, for the receipt (and passes each on to the audit log)."""

    records: list[Mapping[str, Any]] = field(default_factory=list)

    def __call__(self, record: Mapping[str, Any]) -> None:
        self.records.append(dict(record))


def build(
    context: Context,
    plan: Plan | None,
    outcomes: Sequence[Outcome],
    records: Sequence[Mapping[str, Any]],
    result: str,
    message: str,
    started: str,
    finished: str,
) -> dict[str, Any]:
    by_membership: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        # A join's records name its collaboration: there is no membership until it is created.
        key = str(record["membershipIdentifier"]) or f"collaboration:{record.get('collaborationIdentifier')}"
        by_membership.setdefault(key, []).append(record)
    outcome_of = {o.change.key: o for o in outcomes}
    memberships = []
    for change in plan.changes if plan is not None else ():
        writes = by_membership.get(change.key, [])
        outcome = outcome_of.get(change.key)
        joined = [str(r["createdMembershipIdentifier"]) for r in writes if r.get("createdMembershipIdentifier")]
        memberships.append(
            {
                "membershipIdentifier": change.membershipIdentifier,
                "region": change.region,
                "accountId": change.accountId,
                "source": change.source,
                "fields": {f.name: {"before": f.before, "after": f.after} for f in change.fields},
                "outcome": outcome.status.value if outcome else "not applied",
                "fieldsSent": list(outcome.sent) if outcome else [],
                "attempts": outcome.attempts if outcome else 0,
                "message": (outcome.message or (str(outcome.error) if outcome.error else "")) if outcome else "",
                "requestIds": [str(r["requestId"]) for r in writes if r.get("requestId")],
                "firstWriteAt": writes[0]["time"] if writes else None,
                "lastWriteAt": writes[-1]["time"] if writes else None,
                **(
                    {"join": change.join.to_json(), "createdMembershipIdentifier": joined[-1] if joined else None}
                    if change.join
                    else {}
                ),
            }
        )
    return {
        "formatVersion": FORMAT_VERSION,
        "result": result,
        "message": message,
        "commit": context.commit,
        "pullRequest": context.pull_request,
        "runUrl": context.run_url,
        "target": context.target,
        "reviewedHash": context.reviewed_hash,
        "appliedHash": plan.changes_hash() if plan is not None else None,
        "startedAt": started,
        "finishedAt": finished,
        "memberships": memberships,
    }
