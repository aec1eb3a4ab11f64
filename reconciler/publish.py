"""The use cases behind `reconciler render` and `reconciler github ...`: reading the per-target reports a
workflow's jobs leave as artifacts, and publishing them as ONE sticky pull-request comment or ONE drift
issue. No AWS call: the reports were made by `plan` / `drift` in the jobs before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import render, saved
from .api import Where
from .errors import ExitStatus, InvalidSavedPlan, NothingSelected
from .github import GitHub
from .plan import Plan

# Hidden in the body: how the comment and the issue are found again (and told from anyone else's).
PLAN_MARKER = "cleanrooms-reconciler:plan"
DRIFT_MARKER = "cleanrooms-reconciler:drift"
DRIFT_TITLE = "Clean Rooms drift: live settings differ from the desired state"


def read_report(path: Path) -> Plan:
    """One `plan`/`drift --format json` report, its shape checked; a bad file is an error naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSavedPlan(f"cannot read the report {path}: {exc}") from exc
    plan, problems = saved.parse_report(text)
    if plan is None:
        raise InvalidSavedPlan(f"{path} is not a plan or drift report", [f"{path}: {p}" for p in problems])
    return plan


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


def sticky_comment(github: GitHub, number: int, body: str, author: str | None) -> Published:
    """ONE comment per pull request, found by its marker (and author), edited in place on every push."""
    marker = f"<!-- {PLAN_MARKER} -->"
    ours = [c for c in github.comments(number) if marker in c.body and (not author or c.author == author)]
    if ours:
        github.update_comment(number, ours[-1].id, body)
        return Published(f"updated the plan comment {ours[-1].id} on #{number}")
    return Published(f"created the plan comment {github.create_comment(number, body)} on #{number}")


def plan_comment(sections: Sequence[render.Section], run_url: str | None, link: render.Link) -> str:
    return render.report(sections, render.PLAN, link, more=run_url, head=[f"<!-- {PLAN_MARKER} -->"])


def drift_issue(
    github: GitHub, sections: Sequence[render.Section], run_url: str | None, link: render.Link, label: str
) -> Published:
    """ONE open issue labelled `label` while anything drifts: opened, then updated with a comment each night
    the drift stays, and closed once every target was checked and none drifts. A target that could not be
    checked keeps an open issue open and fails the step (it never closes one, nor opens one by itself)."""
    body = render.report(sections, render.DRIFT, link, more=run_url, head=[f"<!-- {DRIFT_MARKER} -->"])
    drifted = sum(len(s.plan.changes) for s in sections if s.plan is not None)
    failed = [s.label for s in sections if s.plan is None or s.plan.errors]
    run = f" ([run]({run_url}))" if run_url else ""
    ours = [i for i in github.open_issues(label) if f"<!-- {DRIFT_MARKER} -->" in i.body]
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
