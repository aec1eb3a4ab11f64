"""`reconciler github adopt-pr`: ONE open pull request, "Adopt live Clean Rooms settings", on a branch of its
own, that makes git follow the live settings the drift reports found. Made or moved each night on the commit
that was checked, closed once there is nothing to adopt; never touched by a run that did not check
everything (a target that failed, or a check of a few memberships), since its adoptions would be lost.

No AWS call: the live values are the reports'. The files are committed through GitHub's API, so the job holds
no git credentials and no AWS credentials."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from ..core import render
from ..core.errors import UsageError
from ..core.escape import inert
from ..edges.github.rest import GitHub
from .adopt import AdoptResult
from .publish import Published, byline, is_ours

ADOPT_MARKER = "cleanrooms-reconciler:adopt"
ADOPT_TITLE = "Adopt live Clean Rooms settings"
# Room kept in a body for its head and the lines saying how many items are not shown.
_ROOM = 2_000


def adopt_pull(
    github: GitHub,
    sections: Sequence[render.Section],
    adopted: AdoptResult,
    branch: str,
    base: str,
    commit: str,
    run_url: str | None,
    author: str | None,
) -> Published:
    """Open, move or close the adopt pull request; its number (None when none is open) for the drift issue."""
    ours = [p for p in github.open_pulls(branch) if is_ours(p.body, p.author, ADOPT_MARKER, author)]
    current = ours[0].number if ours else None
    partial = [s.label for s in sections if s.plan is None or s.plan.errors or s.plan.scope]
    if partial:
        held = f"#{current}" if current else "none open"
        return Published(
            f"adopt pull request ({held}) left as it is: not every membership was checked ({', '.join(partial)})",
            number=current,
        )
    run = f" ([run]({run_url}))" if run_url else ""
    if not adopted.rewrites:
        if current is None:
            return Published("nothing to adopt: no adopt pull request")
        why = "some live values cannot be adopted (see the drift issue)" if adopted.refused else "no drift any more"
        github.create_comment(current, f"Nothing to adopt{run}: {why}. Closed by the drift check.")
        github.update_pull(current, close=True)
        return Published(f"adopt pull request #{current} closed: nothing to adopt")
    outside = [r.source for r in adopted.rewrites if not _in_repository(r.source)]
    if outside:
        raise UsageError(f"cannot commit {', '.join(outside)}: give the desired state as a path inside the repository")
    head = github.branch(branch)
    # The branch already holds these files on this commit: no new commit, so no new plan run for nothing.
    same = head.tree if head is not None and head.parents == (commit,) else None
    files = {str(PurePosixPath(r.source)): r.text for r in adopted.rewrites}
    message = f"{ADOPT_TITLE}\n\n" + "\n".join(adopted.adopted)
    made = github.commit_files(commit, files, message, unless_tree=same)
    if made is not None:
        github.set_branch(branch, made, exists=head is not None)
    body = _body(adopted, byline("Drift checked", commit, run_url))
    if current is not None:
        github.update_pull(current, body=body)
        moved = "moved to new live values" if made else "its files unchanged"
        return Published(f"adopt pull request #{current} updated ({moved})", number=current)
    created = github.create_pull(ADOPT_TITLE, body, branch, base)
    return Published(f"adopt pull request #{created.number} opened from {branch}", number=created.number)


def _body(adopted: AdoptResult, made: str) -> str:
    lines = [
        f"<!-- {ADOPT_MARKER} -->",
        f"### {ADOPT_TITLE}",
        "",
        made,
        "",
        "Live Clean Rooms settings differ from the desired state. Merging this pull request makes the desired "
        "state follow them: its plan shows no change for these memberships. To put the live settings back "
        "instead, close it and run apply (the drift issue says how). Kept up to date by each drift check, and "
        "closed by the first one that finds nothing to adopt.",
        "",
    ]
    room = render.MARKDOWN_LIMIT - _ROOM - len("\n".join(lines))
    for title, items in (
        ("Adopted", adopted.adopted),
        ("Not adopted (revert these, or edit the files)", adopted.refused),
    ):
        if not items:
            continue
        lines += [f"**{title}**", ""]
        shown = 0
        for item in items:
            line = f"- {inert(item)}"
            room -= len(line) + 1
            if room < 0:
                break
            lines.append(line)
            shown += 1
        if shown < len(items):
            lines.append(f"- _{len(items) - shown} more not shown: see the drift reports of the run_")
        lines.append("")
    return "\n".join(lines)


def _in_repository(source: str) -> bool:
    """A relative path that stays inside the checkout: what a commit can name."""
    path = PurePosixPath(source)
    return bool(path.parts) and not path.is_absolute() and ".." not in path.parts
