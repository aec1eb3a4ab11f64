"""Every way a command can end, as types. `cli/exits.py` maps them to exit statuses, in one place.

An error here is one the user can act on: it carries a one-line message (and, where there is more to say,
detail lines printed before it) and never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .documents import Problem


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    # "Changes" (plan --detailed-exitcode) or "drift" (drift), and nothing else: CI branches on it.
    CHANGES = 2
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class ReconcilerError(Exception):
    """A failure with a message for the user; exit 1."""

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = tuple(details)


class Terminated(BaseException):
    """SIGTERM arrived outside apply's write phase (which finishes its writes in flight on its own). A
    BaseException, like KeyboardInterrupt, so no `except Exception` on the way swallows it; exit 1."""

    def __init__(self, name: str = "SIGTERM") -> None:
        super().__init__(name)
        self.signal = name

    @property
    def message(self) -> str:
        return f"terminated ({self.signal}) before anything was written; nothing was applied"


class UsageError(ReconcilerError):
    """Options that do not make sense together, or a value no option takes."""


class ConfigurationError(ReconcilerError):
    """The AWS configuration (profile, region, credentials chain) cannot be used."""


class InvalidDesiredState(ReconcilerError):
    """A desired-state file has problems: nothing was read or changed."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(
            f"{len(problems)} problem(s) in the desired state; nothing was read or changed",
            [str(problem) for problem in problems],
        )
        self.problems = tuple(problems)


class NothingSelected(ReconcilerError):
    """The scope (a path, --membership, --target) selects no membership: an error, never a silent no-op."""


class InvalidSavedPlan(ReconcilerError):
    """apply --plan FILE: the file is not a saved plan this version can apply."""


class PlanHasErrors(ReconcilerError):
    """Some memberships cannot be planned; apply then writes nothing."""


class StalePlan(ReconcilerError):
    """A saved plan whose memberships changed since planning: nothing was applied."""


class ApplyRefused(ReconcilerError):
    """apply stopped before any write: too many changes, no confirmation, no terminal to ask on."""


class PlanNotReviewed(ApplyRefused):
    """apply --expect-changes-hash: the plan computed now is not the one a reviewer approved."""


class OutputNotWritable(ReconcilerError):
    """A file the command was asked to write (--out, --audit-log, import) cannot be written."""

    def __init__(self, what: str, path: str, error: OSError) -> None:
        reason = str(error.strerror or error)
        # Making a missing directory can fail on a parent (a file where a directory should be): name it.
        if error.filename and str(error.filename) != path:
            reason += f": {error.filename}"
        super().__init__(f"cannot write {what} {path}: {reason}")


class AwsCallFailed(ReconcilerError):
    """A call that is not about one membership (listing, assuming a role) failed."""


class EndpointUnavailable(ReconcilerError):
    """The endpoint stopped answering at all: no new calls are started, and the command ends."""


class GitHubCallFailed(ReconcilerError):
    """A call to the GitHub API failed (after the edge's bounded retries)."""
