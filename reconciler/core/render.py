"""Plan -> text (terraform-like), Markdown (a PR comment) or JSON (CONTRACT.md). Pure: returns strings.

The same plan reads as a plan ("to change") or as a drift report ("drifted"): only the words differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from .escape import code, code_block, inert, printable
from .plan import MembershipChange, Plan, PlanError, Unmanaged
from .render_change import Style, field_lines, heading
from .retry import THROTTLE_CODES

Link = Callable[[str], str] | None


@dataclass(frozen=True)
class Words:
    noun: str
    title: str
    changed: str
    same: str
    nothing: str
    # A plan shows its changes hash (what `apply --expect-changes-hash` checks); a drift report has no use for it.
    hashed: bool = False


PLAN = Words(
    "Plan", "Clean Rooms plan", "to change", "unchanged", "No changes. Live settings match the desired state.", True
)
DRIFT = Words("Drift", "Clean Rooms drift", "drifted", "in sync", "No drift. Live settings match the desired state.")
# How much of a changes hash Markdown shows: enough to tell plans apart at a glance (the marker has it whole).
SHORT_HASH = len("sha256:") + 12


def short_hash(plan: Plan) -> str:
    return plan.changes_hash()[:SHORT_HASH]


def plain(text: str, _colour: str) -> str:
    return text


def one_line(style: Style) -> Style:
    return lambda text, colour: style(printable(text), colour)


def memberships(count: int) -> str:
    return f"{count} membership" if count == 1 else f"{count} memberships"


def _error_lines(errors: Sequence[PlanError]) -> list[str]:
    """One line per error, but one for all the memberships the service throttled until their deadline: when
    it refuses everything, thirty copies of that say less than one (`--format json` still lists each)."""
    throttled = [e for e in errors if e.code in THROTTLE_CODES]
    if len(throttled) < 2:
        return [f"! {e}" for e in errors]
    named = ", ".join(e.source for e in throttled[:3]) + (
        f" and {len(throttled) - 3} more" if len(throttled) > 3 else ""
    )
    return [f"! {e}" for e in errors if e.code not in THROTTLE_CODES] + [
        f"! {memberships(len(throttled))} cannot be read: the service throttled every try (ThrottlingException) "
        f"until the call's --retry-deadline ({named})"
    ]


def summary_line(plan: Plan, words: Words = PLAN) -> str:
    s = plan.summary()
    line = (
        f"{words.noun}: {memberships(s['memberships'])}, {s['toChange']} {words.changed}, {s['unchanged']} {words.same}"
    )
    return line + (f", {len(plan.errors)} error(s)." if plan.errors else ".")


def text(plan: Plan, style: Style = plain, words: Words = PLAN) -> str:
    # Each line shows one item: a line break or control character in a file name, a key or a collaboration
    # name is shown escaped, so it can never draw a line of its own (a fake change, say).
    style = one_line(style)
    lines: list[str] = []
    for membership in plan.changes:
        lines.append(style(heading(membership), "green" if membership.join else "yellow"))
        for change in membership.fields:
            lines.extend(field_lines(change, style))
        lines += [style(f"    {line}", "cyan") for line in _attributed(plan, membership)]
        lines.append("")
    lines += [style(line, "red") for line in _error_lines(plan.errors)]
    if plan.errors:
        lines.append("")
    if plan.unmanaged is not None:
        lines.append(f"Unmanaged: {len(plan.unmanaged)} ACTIVE membership(s) no file manages")
        lines += [printable(f"? {u.membershipIdentifier} {u.collaborationName} ({u.region})") for u in plan.unmanaged]
        lines.append("")
    if plan.invitations is not None:
        lines.append(f"Invitations: {len(plan.invitations)} pending invitation(s) no file joins")
        lines += [printable(f"? {i!s}") for i in plan.invitations]
        lines.append("")
    if not plan.changes and not plan.errors:
        lines.append(words.nothing)
    lines.append(summary_line(plan, words))
    return "\n".join(lines) + "\n"


# GitHub refuses a comment or issue body longer than this; a job summary allows more, but reads the same.
MARKDOWN_LIMIT = 65_536
# Kept free for the "not shown" line: a run's URL and the counts fit in far less.
_FOOTER_ROOM = 600
# The least --markdown-limit that leaves room for a title, a table head, a row and the footers.
MIN_MARKDOWN_LIMIT = 2000


@dataclass(frozen=True)
class Section:
    """One account/region's part of a report: its plan, or why there is none (`failure`)."""

    label: str
    plan: Plan | None
    failure: str | None = None


def markdown(
    plan: Plan, link: Link = None, words: Words = PLAN, limit: int | None = MARKDOWN_LIMIT, more: str | None = None
) -> str:
    """One plan as Markdown in at most `limit` characters (None: no limit): the summary first, then as many
    memberships in full as fit, then how many are not shown and where the rest is (`more`: a run's URL)."""
    s = plan.summary()
    title = (
        f"### {words.title}: {s['toChange']} {words.changed}, {s['unchanged']} {words.same} "
        f"({memberships(s['memberships'])})"
    )
    head = [title, ""]
    if words.hashed:
        head += [f"Changes hash: `{short_hash(plan)}` (apply `--expect-changes-hash` checks it)", ""]
    return _fitted(head, [Section("", plan)], link, words, limit, more)


def report(
    sections: Sequence[Section],
    words: Words = PLAN,
    link: Link = None,
    limit: int | None = MARKDOWN_LIMIT,
    more: str | None = None,
    head: Sequence[str] = (),
    markers: Mapping[str, str] | None = None,
    byline: str | None = None,
) -> str:
    """Several account/region plans in one body (a PR comment, a drift issue), in at most `limit`
    characters: `head` (hidden markers, say), the title and `byline` (what it was made for), a table with
    a row per target, then each target's memberships while they fit, in order, then how many are not
    shown. `markers` are hidden lines per target, put in the head for the targets whose rows fit (a marker
    says what its visible row shows)."""
    plans = [section.plan for section in sections if section.plan is not None]
    failed = sum(1 for section in sections if section.plan is None or section.plan.errors)
    title = f"### {words.title}: {sum(len(p.changes) for p in plans)} {words.changed}"
    title += f" in {len(sections)} account/region target(s)" + (f", {failed} with errors" if failed else "")
    hashed = " changes hash |" if words.hashed else ""
    table = [f"| target | memberships | {words.changed} | {words.same} | errors |{hashed}"]
    table.append("|---|---:|---:|---:|---:|" + ("---|" if words.hashed else ""))
    # The table always fits: when the targets are too many for one body, the rows that fit, and a line
    # for the rest (room for it, and for the memberships' footer, is kept).
    title += f"\n\n{byline}" if byline else ""
    room = None if limit is None else limit - _FOOTER_ROOM * 2 - _size([*head, title, "", *table, ""])
    shown: list[Section] = []
    hidden: list[str] = []
    for section in sections:
        row, marker = _target_row(section, words), (markers or {}).get(section.label)
        cost = _size([row, *([marker] if marker else [])])
        if room is not None and cost > room:
            break
        room = None if room is None else room - cost
        shown.append(section)
        table.append(row)
        hidden += [marker] if marker else []
    if len(shown) < len(sections):
        where = f"the artifacts of [this run]({more})" if more else "each target's report"
        table += [
            "",
            f"_{len(sections) - len(shown)} more account/region target(s) not shown in this table: see {where}._",
        ]
    lines = [*head, *hidden, title, "", *table, ""]
    return _fitted(lines, shown, link, words, limit, more, headings=True)


def _target_row(section: Section, words: Words) -> str:
    if section.plan is None:
        failure = f":x: {inert(section.failure or 'no result')}"
        return f"| {code(section.label)} | | | | {failure} |" + (" |" if words.hashed else "")
    p = section.plan
    errors = f":x: {len(p.errors)}" if p.errors else "0"
    row = f"| {code(section.label)} | {p.total} | {len(p.changes)} | {p.unchanged} | {errors} |"
    return row + (f" `{short_hash(p)}` |" if words.hashed else "")


_LIST_NAMES = {
    "errors": "error(s)",
    "changes": "change(s)",
    "unmanaged": "unmanaged membership(s)",
    "invitations": "pending invitation(s)",
}


@dataclass
class _Chosen:
    """The part of one section that fits: how many of each of its lists are shown."""

    section: Section
    shown: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_LIST_NAMES, 0))


def _blocks(plan: Plan | None, link: Link) -> dict[str, list[list[str]]]:
    """Each list of a section as the lines showing each of its items costs."""
    if plan is None:
        return {}
    return {
        "errors": [[_error_line(e, link)] for e in plan.errors],
        "changes": [[_membership_row(m, link), *_membership_details(m, _attributed(plan, m))] for m in plan.changes],
        "unmanaged": [[_unmanaged_line(u)] for u in plan.unmanaged or ()],
        "invitations": [[f"- {inert(str(i))}"] for i in plan.invitations or ()],
    }


def _fitted(
    head: list[str],
    sections: Sequence[Section],
    link: Link,
    words: Words,
    limit: int | None,
    more: str | None,
    *,
    headings: bool = False,
) -> str:
    budget = None if limit is None else limit - _size(head) - _FOOTER_ROOM
    if budget is not None and budget < 0:
        raise ValueError(f"{limit} characters leave no room for the summary")
    chosen: list[_Chosen] = []
    left = dict.fromkeys(_LIST_NAMES, 0)
    full = False
    for section in sections:
        pick = _Chosen(section)
        frame = _size(_section_lines(pick, link, words, headings, frame_only=True))
        full = full or (budget is not None and frame > budget)
        if budget is not None and not full:
            budget -= frame
        for name, blocks in _blocks(section.plan, link).items():
            for block in blocks:
                full = full or (budget is not None and _size(block) > budget)
                if full:
                    left[name] += 1
                    continue
                if budget is not None:
                    budget -= _size(block)
                pick.shown[name] += 1
        if not full or any(pick.shown.values()):
            chosen.append(pick)
    out = list(head)
    for pick in chosen:
        out += _section_lines(pick, link, words, headings)
    omitted = [f"{n} {_LIST_NAMES[name]}" for name, n in left.items() if n]
    if omitted:
        noun = words.noun.lower()
        where = f"in the artifacts of [this run]({more})" if more else f"in the output of `reconciler {noun}`"
        out += [
            f"**Not shown** (a comment holds at most {limit:,} characters): {', '.join(omitted)}. "
            f"The full {noun} is {where}.",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


def _size(lines: Sequence[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _section_lines(pick: _Chosen, link: Link, words: Words, heading: bool, frame_only: bool = False) -> list[str]:
    """A section with the chosen prefix of each list; with `frame_only`, just what frames the lists."""
    section, plan = pick.section, pick.section.plan
    out = [f"#### {code(section.label)}", ""] if heading else []
    if plan is None:
        return [*out, f":x: {inert(section.failure or 'no result')}", ""]
    if plan.errors:
        out += ["**Errors** (nothing will be applied until these are fixed):", ""]
        if not frame_only:
            out += [_error_line(e, link) for e in plan.errors[: pick.shown["errors"]]]
        out.append("")
    if plan.changes:
        changes = () if frame_only else plan.changes[: pick.shown["changes"]]
        out += [_CHANGES_TABLE[0], _CHANGES_TABLE[1], *(_membership_row(m, link) for m in changes), ""]
        for m in changes:
            out += _membership_details(m, _attributed(plan, m))
    elif not plan.errors:
        out += [words.nothing, ""]
    if plan.unmanaged is not None:
        out += [f"**Unmanaged**: {len(plan.unmanaged)} ACTIVE membership(s) no file manages", ""]
        if not frame_only:
            out += [_unmanaged_line(u) for u in plan.unmanaged[: pick.shown["unmanaged"]]]
        out.append("")
    if plan.invitations is not None:
        out += [f"**Invitations**: {len(plan.invitations)} pending invitation(s) no file joins", ""]
        if not frame_only:
            out += [f"- {inert(str(i))}" for i in plan.invitations[: pick.shown["invitations"]]]
        out.append("")
    return out


_CHANGES_TABLE = ("| membership | collaboration | file | account/region | fields |", "|---|---|---|---|---|")


def _error_line(error: PlanError, link: Link) -> str:
    return f"- :x: {code(error.membershipIdentifier)} in {_source(error.source, link)}: {inert(error.message)}"


def _unmanaged_line(u: Unmanaged) -> str:
    return f"- {code(u.membershipIdentifier)} {inert(u.collaborationName)} ({inert(u.region)})"


def _named(m: MembershipChange) -> tuple[str, str]:
    """The id and collaboration columns: a join has no id yet, and says who invited the account."""
    if m.join is None:
        return m.membershipIdentifier, m.collaborationName
    return "join", f"{m.collaborationName} ({m.join.invited_by})"


def _membership_row(m: MembershipChange, link: Link) -> str:
    names = ", ".join(code(f.name) for f in m.fields)
    identifier, collaboration = _named(m)
    return (
        f"| {code(identifier)} | {inert(collaboration)} | {_source(m.source, link)} | {inert(str(m.where))} | {names} |"
    )


def _attributed(plan: Plan, change: MembershipChange) -> list[str]:
    """Who wrote a drifted membership (drift's CloudTrail attribution), a line each; none in a plan."""
    found = (plan.attribution or {}).get(change.membershipIdentifier)
    return found.lines() if found is not None and change.membershipIdentifier else []


def _membership_details(m: MembershipChange, attributed: Sequence[str] = ()) -> list[str]:
    identifier, collaboration = _named(m)
    return [
        f"<details><summary><code>{inert(identifier)}</code> {inert(collaboration)}: "
        f"{len(m.fields)} field(s)</summary>",
        "",
        *code_block("diff", [line for change in m.fields for line in field_lines(change, plain, indent="")]),
        *[f"- {inert(line)}" for line in attributed],
        *([""] if attributed else []),
        "</details>",
        "",
    ]


def _source(path: str, link: Link) -> str:
    # A file name comes from a pull request: shown inert, and linked by a quoted URL.
    shown = f"<code>{inert(path)}</code>"
    return f"[{shown}]({link(quote(path))})" if link else shown


def render(
    plan: Plan,
    fmt: str,
    style: Style = plain,
    link: Link = None,
    words: Words = PLAN,
    limit: int | None = MARKDOWN_LIMIT,
    more: str | None = None,
) -> str:
    if fmt == "json":
        return plan.dumps()
    if fmt == "markdown":
        return markdown(plan, link, words, limit, more)
    return text(plan, style, words)
