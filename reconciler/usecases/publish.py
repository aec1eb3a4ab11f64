"""The use cases behind `reconciler render` and `reconciler github ...`: reading the per-target reports a
workflow's jobs leave as artifacts, and publishing them as ONE sticky pull-request comment or ONE drift
issue. No AWS call: the reports were made by `plan` / `drift` in the jobs before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core import render, saved
from ..core.api import Where
from ..core.errors import ExitStatus, InvalidSavedPlan, NothingSelected, UsageError
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


def plan_comment(
    sections: Sequence[render.Section], run_url: str | None, link: render.Link, head_sha: str | None = None
) -> str:
    """The plan comment. Hidden markers carry what the apply workflow needs to recognise the reviewed plan:
    the pull request's head commit it was made for, and each target's changes hash, whole."""
    markers = [f"<!-- {PLAN_MARKER} -->"]
    if head_sha:
        markers.append(f"<!-- {HEAD_MARKER} {head_sha} -->")
    hashes = {
        s.label: f"<!-- {HASH_MARKER} {s.label} {s.plan.changes_hash()} -->"
        for s in sections
        if s.plan is not None and not s.plan.errors
    }
    return render.report(sections, render.PLAN, link, more=run_url, head=markers, markers=hashes)


@dataclass(frozen=True)
class Reviewed:
    """What was reviewed for a commit: the pull request, and the changes hash approved for each target
    (empty, with `reason`, when nothing was)."""

    pull_request: int | None
    approvals: dict[str, str]
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"pullRequest": self.pull_request, "approvals": self.approvals, "reason": self.reason}


_HASHES = re.compile(rf"<!-- {HASH_MARKER} (\S+) (sha256:[0-9a-f]{{64}}) -->")
_HEAD = re.compile(rf"<!-- {HEAD_MARKER} ([0-9a-f]{{40}}) -->")


def reviewed_for_commit(github: GitHub, commit: str, author: str | None) -> Reviewed:
    """The hashes reviewed for a commit on main: from the plan comment of the pull request it merged, and
    only if that comment was made for the pull request's final head commit (a later push was not planned)."""
    pull = github.merged_pull(commit)
    if pull is None:
        return Reviewed(None, {}, f"commit {commit} did not come from a merged pull request: nothing was reviewed")
    ours = [c for c in github.comments(pull.number) if is_ours(c.body, c.author, PLAN_MARKER, author)]
    if not ours:
        return Reviewed(pull.number, {}, f"pull request #{pull.number} has no plan comment: nothing was reviewed")
    body = ours[-1].body
    markers = "\n".join(head(body))
    made = _HEAD.search(markers)
    if made is None or made.group(1) != pull.head_sha:
        made_for = made.group(1)[:12] if made else "an unknown commit"
        return Reviewed(
            pull.number,
            {},
            f"the plan comment on #{pull.number} was made for {made_for}, not the final head "
            f"{pull.head_sha[:12]}: the last push was not planned",
        )
    approvals: dict[str, str] = {}
    for label, digest in _HASHES.findall(markers):
        # The hidden hash must be the one the reviewer saw: the table's row for its target shows its head.
        shown = re.search(
            rf"^\| `{re.escape(label)}` \|.*\| `{re.escape(digest[: render.SHORT_HASH])}` \|$", body, re.M
        )
        if shown is None or label in approvals:
            return Reviewed(
                pull.number,
                {},
                f"the plan comment on #{pull.number} is not consistent: its hidden hash for {label} is not the one "
                "its table shows; nothing was reviewed",
            )
        approvals[label] = digest
    return Reviewed(pull.number, approvals)


def parse_reviewed(text: str) -> Reviewed:
    """What `reconciler github reviewed` printed, back."""
    try:
        data = json.loads(text)
        approvals = {str(k): str(v) for k, v in data["approvals"].items()}
        number = data.get("pullRequest")
        return Reviewed(int(number) if number is not None else None, approvals, data.get("reason"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"--reviewed: not what `reconciler github reviewed` prints: {exc}") from exc


def read_receipts(directory: Path) -> dict[str, dict[str, Any]]:
    """Apply receipts (`receipt*.json`, any depth) by target."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.rglob("receipt*.json")) if directory.is_dir() else []:
        data = saved.read_receipt(path)
        found[data["target"]] = data
    return found


def parse_approvals(text: str) -> dict[str, str]:
    """`TARGET=HASH` pairs (a manual run's input), separated by spaces or new lines."""
    approvals = {}
    for pair in text.split():
        target, _, digest = pair.partition("=")
        try:
            Where.parse(target)
        except ValueError as exc:
            raise UsageError(f"approve: {exc}") from exc
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            raise UsageError(f"approve: {pair!r}: expected ACCOUNT/REGION=sha256:<64 hex digits>")
        if target in approvals:
            raise UsageError(f"approve: {target} is approved twice; give each target one hash")
        approvals[target] = digest
    if not approvals:
        raise UsageError("approve: no ACCOUNT/REGION=HASH pair given")
    return approvals


def report_apply(
    github: Callable[[], GitHub],
    sections: Sequence[render.Section],
    receipts: Mapping[str, Mapping[str, Any]],
    reviewed: Reviewed,
    run_url: str | None,
    link: render.Link,
    workflow: str,
) -> Published:
    """Comment the apply result on the pull request (without one, the report is the message, for the job
    log); the status is an error unless every target was applied or had nothing to apply."""
    body = apply_report(sections, receipts, reviewed, run_url, link, workflow)
    ok = all(receipts.get(s.label, {}).get("result") in ("applied", "nothing to apply") for s in sections)
    status = ExitStatus.OK if ok else ExitStatus.ERROR
    if reviewed.pull_request is None:
        return Published(body.rstrip("\n"), status)
    number = github().create_comment(reviewed.pull_request, body)
    return Published(f"commented the apply result on #{reviewed.pull_request} ({number})", status)


def apply_report(
    sections: Sequence[render.Section],
    receipts: Mapping[str, Mapping[str, Any]],
    reviewed: Reviewed,
    run_url: str | None,
    link: render.Link,
    workflow: str,
) -> str:
    """The apply run's comment on its pull request: each target's result; and when the plan on main is not
    the one reviewed, the new plan and how to approve it (a manual run with the new hashes)."""
    run = f" ([run]({run_url}))" if run_url else ""
    lines = [f"<!-- {APPLY_MARKER} -->", f"### Clean Rooms apply{run}", ""]
    lines += ["| target | result | applied | changes hash |", "|---|---|---:|---|"]
    differs = []
    for section in sections:
        receipt = receipts.get(section.label)
        approved = reviewed.approvals.get(section.label)
        planned = section.plan.changes_hash() if section.plan is not None else None
        if planned is not None and planned != approved:
            differs.append(section)
        if receipt is None:
            result, done = "not applied", ""
        else:
            result = str(receipt["result"])
            done = str(sum(m["outcome"] in ("applied", "converged") for m in receipt["memberships"]))
            done += f" of {len(receipt['memberships'])}"
        shown = f"`{planned[: render.SHORT_HASH]}`" if planned else ""
        lines.append(f"| {code(section.label)} | {inert(result)} | {done} | {shown} |")
    lines.append("")
    if reviewed.reason:
        lines += [f"Nothing was applied: {inert(reviewed.reason)}.", ""]
    if not differs:
        return "\n".join(lines)
    approve = " ".join(f"{s.label}={s.plan.changes_hash()}" for s in sections if s.plan is not None)
    lines += [
        "**The plan on `main` is not the one reviewed** (a setting changed since review, or another pull "
        "request merged first), so nothing was applied. The new plan is below. To apply it, run the "
        f"`{workflow}` workflow by hand (Actions, `{workflow}`, Run workflow) with",
        "",
        f"- `approve`: `{approve}`",
        *([f"- `pull-request`: `{reviewed.pull_request}`"] if reviewed.pull_request else []),
        "",
        "The run shows the plan again and waits for approval in the protected environment before it writes.",
        "",
    ]
    # The result and the how-to go first, as the report's head: the new plan then fills what room is left.
    return render.report(differs, render.PLAN, link, more=run_url, head=lines)


def drift_issue(
    github: GitHub,
    sections: Sequence[render.Section],
    run_url: str | None,
    link: render.Link,
    label: str,
    author: str | None,
) -> Published:
    """ONE open issue labelled `label` while anything drifts: opened, then updated with a comment each night
    the drift stays, and closed once every target was checked and none drifts. A target that could not be
    checked keeps an open issue open and fails the step (it never closes one, nor opens one by itself)."""
    body = render.report(sections, render.DRIFT, link, more=run_url, head=[f"<!-- {DRIFT_MARKER} -->"])
    drifted = sum(len(s.plan.changes) for s in sections if s.plan is not None)
    failed = [s.label for s in sections if s.plan is None or s.plan.errors]
    run = f" ([run]({run_url}))" if run_url else ""
    ours = [i for i in github.open_issues(label) if is_ours(i.body, i.author, DRIFT_MARKER, author)]
    status = ExitStatus.ERROR if failed else ExitStatus.OK
    unchecked = f"; not checked: {', '.join(failed)}" if failed else ""
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
        github.create_comment(issue.number, f"No drift any more{run}: every target matches its desired state.")
        github.update_issue(issue.number, close=True)
        return Published(f"drift issue #{issue.number} closed: no drift")
    if drifted:
        issue_ref = github.create_issue(DRIFT_TITLE, body, label)
        return Published(f"drift issue #{issue_ref.number} opened: {drifted} drifted{unchecked}", status)
    return Published(f"no drift; no drift issue open{unchecked}", status)
