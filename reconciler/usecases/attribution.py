"""Who changed each drifted membership: one CloudTrail LookupEvents pass per account and region over the
window (by event source, not a lookup per membership), paced by the AWS edge under CloudTrail's 2 requests a
second, within a budget of pages. Denied, throttled out or absent, each membership says "unknown (why)"."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..core.api import AwsError, MembershipReader, Where
from ..core.attribution import Attribution, attribute
from ..core.plan import Plan
from ..core.retry import Retrier
from .reader import pages

DEFAULT_DAYS = 7
# LookupEvents pages read per account and region, 50 events each: the call budget of attribution.
MAX_PAGES = 20


def attribute_drift(
    reader: MembershipReader, retrier: Retrier, report: Plan, days: int, ignored: Sequence[str] = ()
) -> Plan:
    """The report with each drifted membership's most recent writes in the last `days` days; drift written
    only by principals `ignored` (drift.ignoreChangesBy) matches is marked expected."""
    places: dict[Where, set[str]] = {}
    for change in report.changes:
        if change.membershipIdentifier:  # a join has no membership to have been written
            places.setdefault(change.where, set()).add(change.membershipIdentifier)
    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    found: dict[str, Attribution] = {}
    for where, memberships in sorted(places.items(), key=lambda item: item[0].label):
        try:
            events, complete = _events(reader, retrier, where, start, end, memberships)
        except AwsError as error:
            reason = f"{error.code}: {error.message}" if error.message else error.code
            found |= dict.fromkeys(memberships, Attribution(unknown=reason))
            continue
        cut = Attribution(
            unknown=f"more than {MAX_PAGES * 50} Clean Rooms events in {where.label} in {days} day(s): only the "
            "most recent were read (try a shorter --attribution-days)"
        )
        for membership, attribution in attribute(events, memberships).items():
            found[membership] = cut if not attribution.writes and not complete else attribution.judged(ignored)
    return replace(report, attribution=found)


def _events(
    reader: MembershipReader, retrier: Retrier, where: Where, start: datetime, end: datetime, wanted: set[str]
) -> tuple[list[Mapping[str, Any]], bool]:
    """The Clean Rooms events of one account and region, newest first, until each membership in `wanted` has
    its most recent write (or the window or the budget ends); and whether nothing was left unread."""
    events: list[Mapping[str, Any]] = []
    missing = set(wanted)
    listing = functools.partial(reader.lookup_events, where, start, end)
    for page in itertools.islice(pages(retrier, listing), MAX_PAGES):
        events += page.summaries
        # Each page is read for the memberships still without a write, once: not every event again.
        missing -= {m for m, found in attribute(page.summaries, missing).items() if found.writes}
        if not page.next_token or not missing:
            return events, True
    return events, False
