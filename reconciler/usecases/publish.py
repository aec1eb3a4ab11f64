"""The use cases behind `reconciler render` and `reconciler github ...`: reading the per-target reports a
workflow's jobs leave as artifacts, and publishing them as ONE sticky pull-request comment or ONE drift
issue. No AWS call: the reports were made by `plan` / `drift` in the jobs before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..core import render, saved
from ..core.api import Where
from ..core.errors import ExitStatus, InvalidSavedPlan, NothingSelected
from ..core.escape import code, inert
from ..core.plan import Plan
from ..edges.github.rest import GitHub

# Hidden in the body: how the comment and the issue are found again (and told from anyone else's).
PLAN_MARKER = "cleanrooms-reconciler:plan"
DRIFT_MARKER = "cleanrooms-reconciler:drift"
HEAD_MARKER = "cleanrooms-reconciler:head"
HASH_MARKER = "cleanrooms-reconciler:changes-hash"
APPLY_MARKER = "cleanrooms-reconciler:apply"
DRIFT_TITLE = "Clean Rooms drift: live settings differ from the desired state"


def read_report(path: Path) -> Plan:
    """One `plan`/`drift --format json` report, its shape checked; a bad file is an error naming it."""
    return saved.read(path, report=True)


def gather(directory: Path, expected: Sequence[Where]) -> list[render.Section]:
    """A section per expected target, from the reports under `directory` (`*.json`, any depth). A target
    with no report gets a section saying so: its job failed before it could write one."""
    if not directory.is_dir():
        raise NothingSelected(f"no reports: {directory} is not a directory")
    found: dict[str, Plan] = {}
    for path in sorted(directory.rglob("*.json")):
        plan = read_report(path)
        if plan.target is None:
            raise InvalidSavedPlan(f"{path} names no target: make reports with `--target ACCOUNT/REGION`")
        found[plan.target.label] = plan
    labels = sorted({where.label for where in expected} | set(found))
    if not labels:
        raise NothingSelected(f"no reports under {directory} and no targets in the desired state")
    return [
        render.Section(label, found.get(label), None if label in found else "no report: the job did not finish")
        for label in labels
    ]


@dataclass(frozen=True)
class Published:
    message: str
    status: ExitStatus = ExitStatus.OK
    number: int | None = None  # the issue or pull request it is about, when a workflow links to it


def head(body: str) -> list[str]:
    """The hidden markers a body of ours starts with: its lines before the first visible one. Markers are
    read only here, never from the rest, where report text (escaped, but still text) is shown."""
    lines = []
    for line in body.splitlines():
        if not re.fullmatch(r"<!-- [^<>]* -->", line):
            break
        lines.append(line)
    return lines


def is_ours(body: str, author: str, marker: str, wanted: str | None) -> bool:
    """Whether a comment or issue is this tool's: made by `wanted` (any author when None) and starting
    with `marker`, so a marker quoted in someone else's text, or deep in ours, is never taken for it."""
    return (not wanted or author == wanted) and f"<!-- {marker} -->" in head(body)[:1]


def sticky_comment(github: GitHub, number: int, body: str, author: str | None) -> Published:
    """ONE comment per pull request, found by its marker (and author), edited in place on every push."""
    ours = [c for c in github.comments(number) if is_ours(c.body, c.author, PLAN_MARKER, author)]
    if ours:
        github.update_comment(number, ours[-1].id, body)
        return Published(f"updated the plan comment {ours[-1].id} on #{number}")
    return Published(f"created the plan comment {github.create_comment(number, body)} on #{number}")


def byline(verb: str, commit: str | None, run_url: str | None, now: datetime | None = None) -> str:
    """What a comment or issue was made for (the commit, the time, the run), so that it never passes for
    a newer one."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    made = f"{verb} for commit {code(commit[:12])}" if commit else verb
    return f"_{made} at {when}" + (f" in [this run]({run_url})._" if run_url else "._")


def plan_comment(
    sections: Sequence[render.Section], run_url: str | None, link: render.Link, head_sha: str | None = None
) -> str:
    """The plan comment. Hidden markers carry what the apply workflow needs to recognise the reviewed plan:
    the pull request's head commit it was made for, and each target's changes hash, whole; the byline says
    the same for a reader."""
    markers = [f"<!-- {PLAN_MARKER} -->"]
    if head_sha:
        markers.append(f"<!-- {HEAD_MARKER} {head_sha} -->")
    hashes = {
        s.label: f"<!-- {HASH_MARKER} {s.label} {s.plan.changes_hash()} -->"
        for s in sections
        if s.plan is not None and not s.plan.errors
    }
    made = byline("Planned", head_sha, run_url)
    return render.report(sections, render.PLAN, link, more=run_url, head=markers, markers=hashes, byline=made)


OUTDATED = "> :warning: **Outdated**"


def mark_outdated(
    github: GitHub, number: int, author: str | None, commit: str | None, run_url: str | None, reason: str
) -> Published:
    """Mark the plan comment as not the plan of the pull request's latest commit (it does not validate,
    say): a banner first, and every hidden marker dropped, so that nothing in it can be applied any more."""
    ours = [c for c in github.comments(number) if is_ours(c.body, c.author, PLAN_MARKER, author)]
    if not ours:
        return Published(f"no plan comment on #{number}: nothing to mark outdated")
    visible = ours[-1].body.splitlines()[len(head(ours[-1].body)) :]
    while visible and visible[0].startswith(OUTDATED):  # marked before: the new banner replaces the old
        visible = visible[2:]
    made = byline("Marked", commit, run_url).strip("_")
    banner = (
        f"{OUTDATED}: {inert(reason)}. The plan below was made for an earlier commit and cannot be applied ({made})"
    )
    lines = [f"<!-- {PLAN_MARKER} -->", banner, "", *visible]
    while len("\n".join(lines)) > render.MARKDOWN_LIMIT:
        lines.pop()
    github.update_comment(number, ours[-1].id, "\n".join(lines))
    return Published(f"marked the plan comment {ours[-1].id} on #{number} outdated")


@dataclass(frozen=True)
class WaysOut:
    """Where a drift issue sends its readers: the apply workflow's page (revert) and the adopt pull request."""

    apply_url: str | None = None
    adopt_pull: int | None = None

    def lines(self, sections: Sequence[render.Section], partial: bool) -> list[str]:
        """`partial`: a check of a few memberships, whose hash is not the plan apply makes of the whole
        target, so it offers no `approve` value."""
        pairs = [f"{s.label}={s.plan.changes_hash()}" for s in sections if s.plan is not None and s.plan.changes]
        apply = f"[apply]({self.apply_url})" if self.apply_url else "the apply workflow"
        if partial:
            approve = "(the value a check of every membership gives: this one checked only some)"
        else:
            approve = code(" ".join(pairs)) if pairs else "(no target to approve)"
        adopt = (
            f"merge #{self.adopt_pull}"
            if self.adopt_pull
            else "run `reconciler adopt` and open a pull request (or run this workflow with `adopt` on)"
        )
        return [
            "**Two ways out**",
            "",
            f"- **revert** (the live settings go back to the desired state): run {apply} with `approve` {approve}",
            f"- **adopt** (the desired state follows the live settings): {adopt}",
        ]


def drift_issue(
    github: GitHub,
    sections: Sequence[render.Section],
    run_url: str | None,
    link: render.Link,
    label: str,
    author: str | None,
    commit: str | None = None,
    ways: WaysOut | None = None,
    checked: Sequence[str] = (),
) -> Published:
    """ONE open issue labelled `label` while anything drifts: opened, then updated with a comment each night
    the drift stays, and closed once every target was checked and none drifts. A target that could not be
    checked keeps an open issue open and fails the step (it never closes one, nor opens one by itself). A
    check of a few memberships (a change event's) comments on the issue, or opens it, but never rewrites its
    body nor closes it: it does not know about the rest. Such a check is told by `checked` (the memberships
    the run was limited to) or by its reports' scope, so that even a check that left no report is one."""
    drifted = sum(len(s.plan.unexpected) for s in sections if s.plan is not None)
    scope = sorted({*checked, *(m for s in sections if s.plan is not None for m in s.plan.scope)})
    made = byline("Checked", commit, run_url)
    if drifted:
        made += "\n\n" + "\n".join((ways or WaysOut()).lines(sections, partial=bool(scope)))
    body = render.report(sections, render.DRIFT, link, more=run_url, head=[f"<!-- {DRIFT_MARKER} -->"], byline=made)
    # Drift that drift.ignoreChangesBy expects is in the body, but opens no issue and keeps none open.
    failed = [s.label for s in sections if s.plan is None or s.plan.errors]
    run = f" ([run]({run_url}))" if run_url else ""
    ours = [i for i in github.open_issues(label) if is_ours(i.body, i.author, DRIFT_MARKER, author)]
    status = ExitStatus.ERROR if failed else ExitStatus.OK
    unchecked = f"; not checked: {', '.join(failed)}" if failed else ""
    if ours and scope:
        issue = ours[0]
        named = ", ".join(code(m) for m in scope)
        if drifted:
            github.create_comment(issue.number, body)
            return Published(f"drift issue #{issue.number} told: {drifted} drifted of {len(scope)} checked", status)
        said = (
            f"Checked {named} after a change{run}: it could not be checked ({', '.join(failed)})."
            if failed
            else f"Checked {named} after a change{run}: no unexpected drift."
        )
        github.create_comment(issue.number, f"{said} The issue stays open until a check of every membership.")
        return Published(f"drift issue #{issue.number} told: no drift in {len(scope)} checked{unchecked}", status)
    if ours:
        issue = ours[0]
        github.update_issue(issue.number, body=body)
        if drifted:
            github.create_comment(issue.number, body)
            return Published(f"drift issue #{issue.number} updated: {drifted} drifted{unchecked}", status)
        if failed:
            note = f"Drift could not be checked for {', '.join(f'`{t}`' for t in failed)}{run}; the issue stays open."
            github.create_comment(issue.number, note)
            return Published(f"drift issue #{issue.number} kept open{unchecked}", status)
        expected = sum(len(s.plan.changes) for s in sections if s.plan is not None)
        said = (
            f"No unexpected drift any more{run}: {expected} membership(s) differ only by principals "
            "drift.ignoreChangesBy lists (shown above)."
            if expected
            else f"No drift any more{run}: every target matches its desired state."
        )
        github.create_comment(issue.number, said)
        github.update_issue(issue.number, close=True)
        return Published(f"drift issue #{issue.number} closed: no drift")
    if drifted:
        issue_ref = github.create_issue(DRIFT_TITLE, body, label)
        return Published(f"drift issue #{issue_ref.number} opened: {drifted} drifted{unchecked}", status)
    return Published(f"no drift; no drift issue open{unchecked}", status)
