"""The GitHub edge: the only module that talks to GitHub, as edges/aws/ is the only package that talks to AWS.

On PyGithub (the `github` extra): it pages through lists, and its retry honours GitHub's rate-limit headers.
Retries here are bounded and never resend a POST, so a comment or an issue is never created twice by a
retry. Every PyGithub error becomes a `GitHubCallFailed` naming the call. The API URL comes from the caller
(GITHUB_API_URL in a workflow), so GitHub Enterprise Server works, and so do tests against a local fake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from ...core.errors import ConfigurationError, GitHubCallFailed

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.PullRequest import PullRequest
    from github.Repository import Repository

T = TypeVar("T")

# A call that has not answered in this long is failed, and tried once more at most (reads and edits), so a
# GitHub that never answers ends a step in about 21 s rather than holding it.
TIMEOUT_SECONDS = 10
READ_RETRIES = 1
# Rate-limit waits longer than this (X-RateLimit-Reset, or a secondary limit's Retry-After) fail the call at
# once, saying when to retry, instead of holding the job for up to an hour.
MAX_RATE_LIMIT_WAIT = 60


class WaitTooLong(Exception):
    """GitHub asked for a wait longer than MAX_RATE_LIMIT_WAIT."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: str


@dataclass(frozen=True)
class PullRef:
    number: int
    head_sha: str


@dataclass(frozen=True)
class PullInfo:
    number: int
    body: str
    author: str


@dataclass(frozen=True)
class BranchHead:
    sha: str
    tree: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class IssueRef:
    number: int
    title: str
    body: str
    url: str
    author: str = ""


class GitHub:
    """The calls the reconciler makes, on one repository."""

    def __init__(self, api_url: str, token: str, repository: str, user_agent: str = "cleanrooms-reconciler") -> None:
        try:
            from github import Auth, Github, GithubRetry
        except ImportError as exc:
            raise ConfigurationError(
                "the GitHub commands need PyGithub: pip install 'cleanrooms-reconciler[github]'"
            ) from exc
        from urllib3.util.retry import Retry

        class BoundedRetry(GithubRetry):
            """GithubRetry, but a Retry-After past MAX_RATE_LIMIT_WAIT ends the call instead of sleeping."""

            def get_retry_after(self, response: Any) -> float | None:
                seconds = super().get_retry_after(response)
                if seconds is not None and seconds > MAX_RATE_LIMIT_WAIT:
                    raise WaitTooLong(seconds)
                return seconds

        retry = BoundedRetry(
            total=3,
            read=READ_RETRIES,
            backoff_factor=1,
            max_rate_limit_wait=MAX_RATE_LIMIT_WAIT,
            # Not POST: a create whose answer was lost may have taken effect, and must not be sent again.
            allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"PATCH"},
        )
        self._client = Github(
            auth=Auth.Token(token),
            base_url=api_url.rstrip("/"),
            timeout=TIMEOUT_SECONDS,
            retry=retry,
            per_page=100,
            lazy=True,  # objects are addressed, not fetched, until a call needs their data
            user_agent=user_agent,
        )
        self._repository = repository

    def _repo(self) -> Repository:
        return self._client.get_repo(self._repository)

    def _issue(self, number: int) -> Issue:
        return self._repo().get_issue(number)

    def login(self) -> str:
        """Whose token this is (GET /user): a user's login for a personal access token. An installation
        token (a GitHub App's, or a workflow's GITHUB_TOKEN) has no user: GitHub answers 403."""
        return _called("find whose token this is", lambda: str(self._client.get_user().login))

    def comments(self, number: int) -> Iterator[Comment]:
        """Every comment on an issue or pull request, oldest first."""
        for comment in _called(f"list the comments of #{number}", lambda: list(self._issue(number).get_comments())):
            yield Comment(comment.id, comment.body or "", comment.user.login if comment.user else "")

    def create_comment(self, number: int, body: str) -> int:
        created = _called(f"comment on #{number}", lambda: self._issue(number).create_comment(body))
        return created.id

    def update_comment(self, number: int, comment_id: int, body: str) -> None:
        def edit() -> None:
            self._issue(number).get_comment(comment_id).edit(body)

        _called(f"edit comment {comment_id} on #{number}", edit)

    def merged_pull(self, commit: str, base: str | None = None) -> PullRef | None:
        """The merged pull request that `commit` came from, if any: of those merged into `base` when given
        (a commit can be in pull requests into several branches)."""

        def found() -> PullRef | None:
            for pull in self._repo().get_commit(commit).get_pulls():
                # merged_at, not merged: this list carries the former only (reading the latter costs a call).
                merged = pull.merged_at is not None or pull.merge_commit_sha == commit
                if merged and (base is None or pull.base.ref == base):
                    return PullRef(pull.number, pull.head.sha)
            return None

        return _called(f"find the pull request of {commit[:12]}", found)

    def commits_between(self, base: str, head: str) -> list[str]:
        """The commits `head` has that `base` has not, oldest first: what a push brought."""

        def listed() -> list[str]:
            return [c.sha for c in self._repo().compare(base, head).commits]

        return _called(f"list the commits {base[:12]}...{head[:12]}", listed)

    def open_issues(self, label: str) -> list[IssueRef]:
        """Open issues (not pull requests) with `label`, oldest first."""

        def listed() -> list[IssueRef]:
            found = self._repo().get_issues(state="open", labels=[label], sort="created", direction="asc")
            return [
                IssueRef(i.number, i.title, i.body or "", i.html_url, i.user.login if i.user else "")
                for i in found
                if i.pull_request is None
            ]

        return _called(f"list open issues labelled {label}", listed)

    def create_issue(self, title: str, body: str, label: str) -> IssueRef:
        issue = _called("open an issue", lambda: self._repo().create_issue(title=title, body=body, labels=[label]))
        return IssueRef(issue.number, issue.title, issue.body or "", issue.html_url)

    def update_issue(self, number: int, *, body: str | None = None, close: bool = False) -> None:
        def edit() -> None:
            issue = self._issue(number)
            if body is not None:
                issue.edit(body=body)
            if close:
                issue.edit(state="closed", state_reason="completed")

        _called(f"update issue #{number}", edit)

    # -- a branch of our own and its pull request (the adopt pull request) --------------------------------

    def branch(self, name: str) -> BranchHead | None:
        """The head commit of branch `name` (its tree and parents), or None when there is no such branch."""
        from github import UnknownObjectException

        def found() -> BranchHead | None:
            try:
                sha = self._repo().get_git_ref(f"heads/{name}").object.sha
            except UnknownObjectException:
                return None
            commit = self._repo().get_git_commit(sha)
            return BranchHead(sha, commit.tree.sha, tuple(p.sha for p in commit.parents))

        return _called(f"read branch {name}", found)

    def commit_files(self, parent: str, files: dict[str, str], message: str, unless_tree: str | None) -> str | None:
        """A commit on `parent` that writes `files` (path: text), its sha; None when the tree it would have is
        `unless_tree` (the branch holds these very files on this very parent already)."""
        from github import InputGitTreeElement

        def made() -> str | None:
            repo = self._repo()
            base = repo.get_git_commit(parent)
            entries = [InputGitTreeElement(path, "100644", "blob", content=files[path]) for path in sorted(files)]
            tree = repo.create_git_tree(entries, base_tree=base.tree)
            if tree.sha == unless_tree:
                return None
            return str(repo.create_git_commit(message, tree, [base]).sha)

        return _called(f"commit {len(files)} file(s) on {parent[:12]}", made)

    def set_branch(self, name: str, sha: str, exists: bool) -> None:
        """Point branch `name` at `sha` (made, or moved whatever it held: the branch is this tool's own)."""

        def moved() -> None:
            if exists:
                ref = self._repo().get_git_ref(f"heads/{name}")
                # Read first: the answer's url is the one to PATCH (/git/refs/…), not the read's (/git/ref/…).
                _ = ref.object
                ref.edit(sha, force=True)
            else:
                self._repo().create_git_ref(f"refs/heads/{name}", sha)

        _called(f"point branch {name} at {sha[:12]}", moved)

    def open_pulls(self, branch: str) -> list[PullInfo]:
        """The open pull requests from `branch` of this repository, oldest first."""
        owner = self._repository.split("/")[0]

        def listed() -> list[PullInfo]:
            found = self._repo().get_pulls(state="open", head=f"{owner}:{branch}", sort="created", direction="asc")
            return [_pull_info(p) for p in found]

        return _called(f"list the open pull requests from {branch}", listed)

    def create_pull(self, title: str, body: str, branch: str, base: str) -> PullInfo:
        created = _called(
            f"open a pull request from {branch}", lambda: self._repo().create_pull(base, branch, title=title, body=body)
        )
        return _pull_info(created)

    def update_pull(self, number: int, *, body: str | None = None, close: bool = False) -> None:
        def edit() -> None:
            pull = self._repo().get_pull(number)
            if body is not None:
                pull.edit(body=body)
            if close:
                pull.edit(state="closed")

        _called(f"update pull request #{number}", edit)


def _pull_info(pull: PullRequest) -> PullInfo:
    return PullInfo(pull.number, pull.body or "", pull.user.login if pull.user else "")


def _wait_message(what: str, seconds: float, header: str) -> str:
    when = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")
    return (
        f"GitHub: cannot {what}: GitHub asks to wait {seconds:.0f} s before the next call ({header}); "
        f"retry after {when}"
    )


def _called(what: str, call: Callable[[], T]) -> T:
    from github import GithubException
    from requests.exceptions import RequestException

    try:
        return call()
    except WaitTooLong as exc:
        raise GitHubCallFailed(_wait_message(what, exc.seconds, "Retry-After")) from exc
    except GithubException as exc:
        wait = getattr(exc, "wait", None)  # PyGithub's RateLimitExceededExceedsMaxWait: the primary limit
        if isinstance(wait, int | float):
            raise GitHubCallFailed(_wait_message(what, wait, "X-RateLimit-Reset")) from exc
        message = exc.data.get("message") if isinstance(exc.data, dict) else exc.data
        raise GitHubCallFailed(f"GitHub: cannot {what}: HTTP {exc.status}: {message}") from exc
    except RequestException as exc:
        raise GitHubCallFailed(f"GitHub: cannot {what}: {exc}") from exc
