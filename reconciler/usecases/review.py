"""What was reviewed, and the apply run's report against it: `reconciler github reviewed`, `apply-targets` and
`apply-report`. The reviewed changes hashes come from the merged pull request's plan comment (or a manual
run's `approve`); the apply workflow asks approval only for targets whose plan on main has them, and its
report says for every target what happened and, for any not done, the one step that finishes the job.
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
from ..core.errors import ExitStatus, UsageError
from ..core.escape import code, inert
from ..core.plan import Plan
from ..edges.github.rest import GitHub, PullRef
from .publish import (
    APPLY_MARKER,
    HASH_MARKER,
    HEAD_MARKER,
    PLAN_MARKER,
    Published,
    byline,
    head,
    is_ours,
    read_report,
)


@dataclass(frozen=True)
class Reviewed:
    """What was reviewed for a push: the pull request (the last, for a merge queue's batch of several,
    all of which are `pull_requests`), and the changes hash approved for each target (empty, with
    `reason`, when nothing was)."""

    pull_request: int | None
    approvals: dict[str, str]
    reason: str | None = None
    # Approved by hand (a manual run's `approve`): the targets it names are the run's whole scope.
    by_hand: bool = False
    pull_requests: tuple[int, ...] = ()

    @property
    def told(self) -> tuple[int, ...]:
        """The pull requests the apply report goes to."""
        return self.pull_requests or ((self.pull_request,) if self.pull_request is not None else ())

    def to_json(self) -> dict[str, object]:
        return {
            "pullRequest": self.pull_request,
            "pullRequests": list(self.told),
            "approvals": self.approvals,
            "reason": self.reason,
            "byHand": self.by_hand,
        }


_HASHES = re.compile(rf"<!-- {HASH_MARKER} (\S+) (sha256:[0-9a-f]{{64}}) -->")
_HEAD = re.compile(rf"<!-- {HEAD_MARKER} ([0-9a-f]{{40}}) -->")


# The changes hash of a plan that changes nothing, whatever the target.
EMPTY_HASH = Plan.build(()).changes_hash()


def reviewed_for_push(
    github: GitHub, commit: str, author: str | None, base: str | None = None, since: str | None = None
) -> Reviewed:
    """The hashes reviewed for a push to `base` ending at `commit`: with `since` (the push's previous head)
    every commit it brought is looked at, so a merge queue's batch of several pull requests is each of them
    (a merge by hand is one). Per target, the hash of the one pull request that changes it; a target that
    several of the batch change has no reviewed hash (their plans were made apart: the plan on main is
    neither), and is applied only after a manual approval. Any pull request of the batch not reviewed as
    planned leaves the whole push unreviewed: what it changed is not known."""
    commits = [commit]
    if since and since.strip("0"):
        commits = github.commits_between(since, commit) or [commit]
    pulls: list[PullRef] = []
    source = f"a pull request merged into {base}" if base else "a merged pull request"
    for sha in commits:
        pull = github.merged_pull(sha, base)
        if pull is None:  # pushed straight to the branch, alone or among merges: nobody reviewed it
            numbers = tuple(p.number for p in pulls)
            reason = f"commit {sha} did not come from {source}: nothing was reviewed"
            return Reviewed(numbers[-1] if numbers else None, {}, reason, pull_requests=numbers)
        if pull.number not in [p.number for p in pulls]:
            pulls.append(pull)
    reviews = [_reviewed_pull(github, pull, author) for pull in pulls]
    numbers = tuple(p.number for p in pulls)
    unreviewed = [r.reason for r in reviews if r.reason]
    if unreviewed:
        return Reviewed(numbers[-1], {}, "; ".join(unreviewed), pull_requests=numbers)
    approvals: dict[str, str] = {}
    for label in sorted({label for r in reviews for label in r.approvals}):
        hashes = [r.approvals.get(label) for r in reviews]
        changing = [h for h in hashes if h is not None and h != EMPTY_HASH]
        # A pull request with no hash for the target (it had errors, or no such target) leaves it unknown.
        if None not in hashes and len(changing) <= 1:
            approvals[label] = changing[0] if changing else EMPTY_HASH
    return Reviewed(numbers[-1], approvals, pull_requests=numbers if len(numbers) > 1 else ())


def _reviewed_pull(github: GitHub, pull: PullRef, author: str | None) -> Reviewed:
    """The hashes of a merged pull request: from its plan comment, and only if that comment was made for
    the pull request's final head commit (a later push was not planned)."""
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


def ready_to_apply(sections: Sequence[render.Section], reviewed: Reviewed) -> tuple[list[Where], list[str]]:
    """The targets an apply run asks approval for: each whose plan on main has no errors, is the reviewed
    one (its changes hash), and changes something. The others, each with why: a target that was not
    reviewed as planned blocks only itself, and one with nothing to change never asks anyone to approve.
    The same judgement as the report's (`_outcome`), before any receipt exists."""
    ready, others = [], []
    for section in sections:
        result, why = _outcome(section, None, reviewed)
        if why == PENDING and section.plan is not None and section.plan.target is not None:
            ready.append(section.plan.target)
        else:
            others.append(f"{section.label}: {why or result}")
    return ready, others


def parse_reviewed(text: str) -> Reviewed:
    """What `reconciler github reviewed` printed, back."""
    try:
        data = json.loads(text)
        approvals = {str(k): str(v) for k, v in data["approvals"].items()}
        number = data.get("pullRequest")
        by_hand = data.get("byHand", False) is True
        told = tuple(int(n) for n in data.get("pullRequests") or ())
        return Reviewed(int(number) if number is not None else None, approvals, data.get("reason"), by_hand, told)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"--reviewed: not what `reconciler github reviewed` prints: {exc}") from exc


def read_receipts(directory: Path) -> dict[str, dict[str, Any]]:
    """Apply receipts (`receipt*.json`, any depth) by target: of a target's several attempts in one run
    ("Re-run failed jobs" keeps each attempt's, in artifacts named `...-attempt-N`), the last one's."""
    found: dict[str, dict[str, Any]] = {}
    for path in _in_attempt_order(directory, "receipt*.json"):
        data = saved.read_receipt(path)
        found[data["target"]] = data
    return found


def read_remaining(directory: Path) -> dict[str, Plan]:
    """The plans that stood after a failed apply (`remaining*.json`, any depth, beside the receipts) by
    target: what is left to approve. Of several attempts', the last one's."""
    found: dict[str, Plan] = {}
    for path in _in_attempt_order(directory, "remaining*.json"):
        plan = read_report(path)
        if plan.target is not None:
            found[plan.target.label] = plan
    return found


def _in_attempt_order(directory: Path, pattern: str) -> list[Path]:
    """The files matching `pattern` under `directory` (any depth), by attempt (10 after 9), then by name: read
    in this order into a map by target, the last attempt's wins."""

    def attempt(path: Path) -> tuple[int, str]:
        number = re.search(r"-attempt-([0-9]+)", str(path))
        return (int(number.group(1)) if number else 0, str(path))

    return sorted(directory.rglob(pattern), key=attempt) if directory.is_dir() else []


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


@dataclass(frozen=True)
class ApplyRun:
    """What an apply run's report is made of: the plans on main (a section per target), the receipts and
    the plans a failed apply left (by target), what was reviewed, and where the run is."""

    sections: Sequence[render.Section]
    receipts: Mapping[str, Mapping[str, Any]]
    reviewed: Reviewed
    run_url: str | None = None
    link: render.Link = None
    workflow: str = "apply"
    remaining: Mapping[str, Plan] | None = None
    commit: str | None = None
    branch: str = "main"

    @property
    def done(self) -> bool:
        """Every target in the run's scope applied, with nothing to apply, or (by hand) not named."""
        return all(_outcome(s, self.receipts.get(s.label), self.reviewed)[0] in DONE for s in self.sections)


def report_apply(github: Callable[[], GitHub], run: ApplyRun) -> Published:
    """Comment the apply result on the pull request (without one, the report is the message, for the job
    log); the status is an error unless every target in the run's scope is done."""
    body = apply_report(run)
    status = ExitStatus.OK if run.done else ExitStatus.ERROR
    if run.reviewed.pull_request is None:
        return Published(body.rstrip("\n"), status)
    told = [f"#{number} ({github().create_comment(number, body)})" for number in run.reviewed.told]
    return Published(f"commented the apply result on {', '.join(told)}", status)


# A target's results that need nothing more: written, nothing to write, or outside a manual run's scope.
DONE = ("applied", "nothing to apply", "not in this run")
NOT_REVIEWED = "the plan on main is not the one reviewed"
PENDING = "its apply job did not run or left no receipt"  # the reviewed plan, with something to write


def _outcome(section: render.Section, receipt: Mapping[str, Any] | None, reviewed: Reviewed) -> tuple[str, str]:
    """A target's result in the run, and why it is not done (empty when it is)."""
    plan, approved = section.plan, reviewed.approvals.get(section.label)
    if receipt is not None:
        result = str(receipt["result"])
        message = str(receipt.get("message") or "")
        return result, "" if result in DONE else f"the apply did not finish ({message or result})"
    if plan is None or plan.errors:
        return "not applied", "its plan on main failed"
    if approved is None:
        if reviewed.by_hand:
            return "not in this run", ""
        return "not applied", "no changes hash was reviewed for it"
    if plan.changes_hash() != approved:
        return "not applied", NOT_REVIEWED
    if not plan.changes:
        return "nothing to apply", ""
    return "not applied", PENDING


def apply_report(run: ApplyRun) -> str:
    """The apply run's comment on its pull request: each target's result; and for every target not done
    (not the reviewed plan, a failed or partial apply, no apply at all), why, the plan that stands now for
    it, and the one step that finishes the job: a manual run approving those plans' hashes."""
    sections, receipts, reviewed, run_url, workflow = (
        run.sections,
        run.receipts,
        run.reviewed,
        run.run_url,
        run.workflow,
    )
    shown_run = f" ([run]({run_url}))" if run_url else ""
    made = byline("Reported", run.commit, run_url)
    lines = [f"<!-- {APPLY_MARKER} -->", f"### Clean Rooms apply{shown_run}", "", made, ""]
    lines += ["| target | result | applied | changes hash |", "|---|---|---:|---|"]
    unfinished: list[tuple[render.Section, str]] = []
    for section in sections:
        receipt = receipts.get(section.label)
        result, why = _outcome(section, receipt, reviewed)
        if why:
            unfinished.append((section, why))
        planned = section.plan.changes_hash() if section.plan is not None else None
        done = ""
        if receipt is not None:
            applied = sum(m["outcome"] in ("applied", "converged") for m in receipt["memberships"])
            done = f"{applied} of {len(receipt['memberships'])}"
        shown = f"`{planned[: render.SHORT_HASH]}`" if planned else ""
        lines.append(f"| {code(section.label)} | {inert(result)} | {done} | {shown} |")
    lines.append("")
    if reviewed.reason:
        lines += [f"Nothing was applied: {inert(reviewed.reason)}.", ""]
    if not unfinished:
        return "\n".join(lines)
    # What stands now: after a failed apply, the plan made once it stopped; otherwise this run's plan.
    standing = [render.Section(s.label, (run.remaining or {}).get(s.label) or s.plan, s.failure) for s, _ in unfinished]
    if any(why == NOT_REVIEWED for _, why in unfinished):
        lines += [
            f"**The plan on {code(run.branch)} is not the one reviewed** (a setting changed since review, or "
            "another pull request merged first) for a target below, so it was not applied.",
            "",
        ]
    lines += ["**Not finished:**", ""]
    lines += [f"- {code(s.label)}: {inert(why)}" for s, why in unfinished]
    approvable = [s for s in standing if s.plan is not None and not s.plan.errors]
    if approvable:
        approve = " ".join(f"{s.label}={s.plan.changes_hash()}" for s in approvable if s.plan is not None)
        lines += [
            "",
            f"To finish, check the plan below and run the {code(workflow)} workflow by hand (Actions, "
            f"{code(workflow)}, Run workflow) with",
            "",
            f"- `approve`: `{approve}`",
            *([f"- `pull-request`: `{reviewed.pull_request}`"] if reviewed.pull_request else []),
            "",
            "That run plans again, applies only a plan with these hashes, and waits for approval in the "
            "protected environment before it writes.",
        ]
    stuck = [s.label for s in standing if s.plan is None or s.plan.errors]
    if stuck:
        lines += ["", f"No plan stands for {', '.join(code(t) for t in stuck)}: fix its errors (see the run) first."]
    lines.append("")
    # The result and the way forward go first, as the report's head: the plans then fill what room is left.
    return render.report(approvable, render.PLAN, run.link, more=run_url, head=lines)
