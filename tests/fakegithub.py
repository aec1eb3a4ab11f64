"""A local fake of the GitHub REST API: the few endpoints the reconciler calls, served over real HTTP on
127.0.0.1 (waitress), answering in GitHub's shapes and recording every call.

It keeps one repository's issues (pull requests are issues too, for comments), their comments and labels,
and pull requests with their commits. Like GitHub it checks the token, pages lists with a `Link` header, and
refuses a body over 65,536 characters with a 422. `fail(...)` answers chosen calls with an error.

A workflow run's token is minted per job with that job's `permissions:`. Given them (`jobs`), the fake
answers a call 403 unless the calling job (named by the reconciler's User-Agent) holds what GitHub requires
for it, and serves the OIDC token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`) only to a job with
`id-token: write`.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from waitress import wasyncore
from waitress.server import create_server

StartResponse = Callable[..., Any]
BODY_LIMIT = 65_536
BOT = "github-actions[bot]"
OIDC_PATH = "/_actions/oidc/token"
OIDC_REQUEST_TOKEN = "fake-oidc-request-token"
LEVELS = {"none": 0, "read": 1, "write": 2}
# What a call needs of the token's permissions (GitHub's REST reference, "permissions required for
# GitHub Apps" / workflow tokens): any one of the alternatives, each a set of scope levels.
Needs = tuple[tuple[tuple[str, str], ...], ...]
READ_COMMENTS: Needs = ((("issues", "read"),), (("pull-requests", "read"),))
WRITE_COMMENTS: Needs = ((("issues", "write"),), (("pull-requests", "write"),))
READ_ISSUES: Needs = ((("issues", "read"),),)
WRITE_ISSUES: Needs = ((("issues", "write"),),)
COMMIT_PULLS: Needs = ((("contents", "read"), ("pull-requests", "read")),)
READ_PULLS: Needs = ((("pull-requests", "read"),),)
READ_CONTENTS: Needs = ((("contents", "read"),),)
WRITE_CONTENTS: Needs = ((("contents", "write"),),)
WRITE_PULLS: Needs = ((("pull-requests", "write"),),)
_NOT_ACCESSIBLE: tuple[int, Any, list[tuple[str, str]]] = (
    403,
    {"message": "Resource not accessible by integration"},
    [],
)
_JOB = re.compile(r"\(github-actions; [^;]*; job ([^)]+)\)")


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    job: str = ""  # the workflow job that made the call (from its User-Agent), if any


@dataclass
class Issue:
    number: int
    title: str
    body: str
    labels: list[str]
    author: str
    state: str = "open"
    state_reason: str | None = None
    is_pull: bool = False
    comments: list[int] = field(default_factory=list)


@dataclass
class Comment:
    id: int
    issue: int
    body: str
    author: str
    edits: int = 0


@dataclass
class Pull:
    number: int
    head_sha: str
    merge_commit_sha: str | None = None
    merged: bool = False
    commits: list[str] = field(default_factory=list)
    base: str = "main"
    head_ref: str = ""


@dataclass(frozen=True)
class GitCommit:
    """A commit made through the Git database API: its tree is its parent's with `files` written over it."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    files: dict[str, str]


class FakeGitHub:
    def __init__(self, repository: str = "acme/cleanrooms", token: str = "fake-token", author: str = BOT) -> None:
        self.repository = repository
        self.token = token
        self.author = author  # whom the token belongs to: the author of what it creates
        # Other tokens (a GitHub App's installation token, a PAT): token -> (login, is_user). Their
        # permissions are their own, not a job's; only a user's token can ask GET /user who it is.
        self.tokens: dict[str, tuple[str, bool]] = {}
        self._caller = author  # who is making the call being answered (calls are answered one at a time)
        self.issues: dict[int, Issue] = {}
        self.comments: dict[int, Comment] = {}
        self.pulls: dict[int, Pull] = {}
        self.calls: list[Call] = []
        self._failures: list[tuple[str, re.Pattern[str], int, list[tuple[str, str]], str | None]] = []
        self._lock = threading.Lock()
        self._next_number = 1
        self._next_comment = 1001
        self._server: Any = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        # The running workflow's jobs and their permissions (None: the token may do anything).
        self.jobs: dict[str, dict[str, str]] | None = None
        # The repository's git directory, for the commits between two (compare); None: no history.
        self.git_dir: str | None = None
        # The Git database: commits made through the API, the trees they made, and the branches.
        self.git_commits: dict[str, GitCommit] = {}
        self.trees: dict[str, tuple[str, dict[str, str]]] = {}  # sha -> (base tree, files written over it)
        self.refs: dict[str, str] = {}  # branch -> commit

    # -- the test's side -------------------------------------------------------------------------------

    def start(self) -> FakeGitHub:
        self._server = create_server(self._app, host="127.0.0.1", port=0, threads=8, ident="fake-github")
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        try:
            self._server.run()
        except OSError:
            # Stopping closes the sockets the serving loop may be selecting on at that moment.
            if not self._stopping:
                raise

    def stop(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.close()
            wasyncore.close_all(self._server._map)
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.effective_port}"

    def env(self) -> dict[str, str]:
        """The variables a workflow run gives a step that talks to GitHub."""
        return {"GITHUB_API_URL": self.url, "GITHUB_TOKEN": self.token, "GITHUB_REPOSITORY": self.repository}

    def open_pull(self, head_sha: str = "0" * 40, author: str = "octocat", base: str = "main") -> int:
        with self._lock:
            number = self._new_issue(f"PR {head_sha[:7]}", "", [], author, is_pull=True)
            self.pulls[number] = Pull(number, head_sha, commits=[head_sha], base=base)
            return number

    def merge(self, number: int, merge_commit_sha: str) -> None:
        """The pull request is merged into main as `merge_commit_sha`."""
        with self._lock:
            pull = self.pulls[number]
            pull.merged, pull.merge_commit_sha = True, merge_commit_sha
            self.issues[number].state = "closed"

    def add_comment(self, number: int, body: str, author: str) -> int:
        with self._lock:
            return self._new_comment(number, body, author)

    def add_issue(self, title: str, body: str, labels: list[str], author: str) -> int:
        """An issue someone opened by hand."""
        with self._lock:
            return self._new_issue(title, body, labels, author)

    def fail(
        self,
        method: str,
        path_pattern: str,
        status: int,
        headers: list[tuple[str, str]] | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next call matching METHOD and the path pattern with `status` (`headers`, `message`)."""
        with self._lock:
            self._failures.append((method, re.compile(path_pattern), status, headers or [], message))

    def branch_files(self, branch: str) -> dict[str, str]:
        """The files the commits made through the API wrote on `branch`, oldest first, over its history."""
        with self._lock:
            files: dict[str, str] = {}
            sha: str | None = self.refs[branch]
            chain = []
            while sha in self.git_commits:
                chain.append(self.git_commits[sha])
                sha = self.git_commits[sha].parents[0] if self.git_commits[sha].parents else None
            for commit in reversed(chain):
                files.update(commit.files)
            return files

    def pulls_from(self, branch: str) -> list[Issue]:
        with self._lock:
            return [self.issues[p.number] for p in self.pulls.values() if p.head_ref == branch]

    def comments_on(self, number: int) -> list[Comment]:
        with self._lock:
            return [self.comments[c] for c in self.issues[number].comments]

    def issues_labelled(self, label: str) -> list[Issue]:
        with self._lock:
            return [i for i in self.issues.values() if label in i.labels and not i.is_pull]

    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method != "GET"]

    # -- GitHub's shapes -------------------------------------------------------------------------------

    def _base(self) -> str:
        return f"{self.url}/repos/{self.repository}"

    def _user(self, login: str) -> dict[str, Any]:
        return {"login": login, "id": abs(hash(login)) % 10**6, "type": "Bot" if login.endswith("[bot]") else "User"}

    def _issue_json(self, issue: Issue) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": 500000 + issue.number,
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "labels": [{"name": label} for label in issue.labels],
            "user": self._user(issue.author),
            "comments": len(issue.comments),
            "url": f"{self._base()}/issues/{issue.number}",
            "html_url": f"https://github.localhost/{self.repository}/issues/{issue.number}",
            "created_at": "2026-12-01T00:00:00Z",
            "updated_at": "2026-12-01T00:00:00Z",
        }
        if issue.is_pull:
            data["pull_request"] = {"url": f"{self._base()}/pulls/{issue.number}"}
        return data

    def _comment_json(self, comment: Comment) -> dict[str, Any]:
        return {
            "id": comment.id,
            "body": comment.body,
            "user": self._user(comment.author),
            "url": f"{self._base()}/issues/comments/{comment.id}",
            "html_url": f"https://github.localhost/{self.repository}/issues/{comment.issue}#issuecomment-{comment.id}",
            "issue_url": f"{self._base()}/issues/{comment.issue}",
            "created_at": "2026-12-01T00:00:00Z",
            "updated_at": "2026-12-01T00:00:00Z",
        }

    def _pull_json(self, pull: Pull) -> dict[str, Any]:
        issue = self.issues[pull.number]
        return {
            "id": 700000 + pull.number,
            "number": pull.number,
            "state": issue.state,
            "title": issue.title,
            "user": self._user(issue.author),
            "body": issue.body,
            "head": {"sha": pull.head_sha, "ref": pull.head_ref or f"pr-{pull.number}"},
            "base": {"ref": pull.base},
            "merged_at": "2026-12-01T00:00:00Z" if pull.merged else None,  # as in GitHub's pull request lists
            "merge_commit_sha": pull.merge_commit_sha,
            "url": f"{self._base()}/pulls/{pull.number}",
            "html_url": f"https://github.localhost/{self.repository}/pull/{pull.number}",
        }

    def _new_issue(self, title: str, body: str, labels: list[str], author: str, is_pull: bool = False) -> int:
        number = self._next_number
        self._next_number += 1
        self.issues[number] = Issue(number, title, body, labels, author, is_pull=is_pull)
        return number

    def _new_comment(self, number: int, body: str, author: str) -> int:
        comment_id = self._next_comment
        self._next_comment += 1
        self.comments[comment_id] = Comment(comment_id, number, body, author)
        self.issues[number].comments.append(comment_id)
        return comment_id

    # -- serving -----------------------------------------------------------------------------------------

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        body = json.loads(raw) if raw else None
        with self._lock:
            authorization, agent = environ.get("HTTP_AUTHORIZATION", ""), environ.get("HTTP_USER_AGENT", "")
            status, payload, headers = self._answer(method, path, query, body, authorization, agent)
            named = _JOB.search(agent)
            self.calls.append(Call(method, path, query, body, status, named.group(1) if named else ""))
        data = json.dumps(payload).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers]
        start_response(f"{status} {'OK' if status < 400 else 'Error'}", headers)
        return [data]

    def _answer(
        self, method: str, path: str, query: dict[str, str], body: Any, authorization: str, agent: str = ""
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        if path == OIDC_PATH:
            return self._oidc_token(query, authorization)
        token = authorization.split(" ", 1)[-1]
        if token in self.tokens:
            self._caller, is_user = self.tokens[token]
            if path == "/user":
                return (200, self._user(self._caller), []) if is_user else _NOT_ACCESSIBLE
            agent = ""  # not the job's token: the job's permissions do not bound it
        elif token == self.token:
            self._caller = self.author
            if path == "/user":
                return _NOT_ACCESSIBLE  # an installation token (GITHUB_TOKEN) has no user
        else:
            return 401, {"message": "Bad credentials"}, []
        for index, (m, pattern, status, headers, message) in enumerate(self._failures):
            if m == method and pattern.search(path):
                del self._failures[index]
                return status, {"message": message or f"injected {status}"}, headers
        prefix = f"/repos/{self.repository}"
        if not path.startswith(prefix + "/"):
            return 404, {"message": "Not Found"}, []
        for route_method, route, needs, handler in self._routes():
            match = re.fullmatch(route, path[len(prefix) :])
            if match and route_method == method:
                refused = self._not_permitted(needs, agent)
                return refused or handler(query, body, *match.groups())
        return 404, {"message": "Not Found"}, []

    def _not_permitted(self, needs: Needs, agent: str) -> tuple[int, Any, list[tuple[str, str]]] | None:
        if self.jobs is None or not agent:
            return None
        named = _JOB.search(agent)
        granted = self.jobs.get(named.group(1), {}) if named else {}
        for alternative in needs:
            if all(LEVELS[granted.get(scope, "none")] >= LEVELS[level] for scope, level in alternative):
                return None
        return _NOT_ACCESSIBLE

    def _oidc_token(self, query: dict[str, str], authorization: str) -> tuple[int, Any, list[tuple[str, str]]]:
        """The runner's OIDC token service: a token only for a job that holds `id-token: write`."""
        if authorization.split(" ", 1)[-1] != OIDC_REQUEST_TOKEN:
            return 401, {"message": "Bad credentials"}, []
        job = query.get("job", "")
        if self.jobs is not None and self.jobs.get(job, {}).get("id-token") != "write":
            return 403, {"message": f"job {job!r} has no id-token: write permission"}, []
        return 200, {"value": f"oidc.{job}.{query.get('audience', '')}"}, []

    def _routes(self) -> Iterator[tuple[str, str, Needs, Callable[..., tuple[int, Any, list[tuple[str, str]]]]]]:
        yield "GET", r"/issues/(\d+)/comments", READ_COMMENTS, self._list_comments
        yield "POST", r"/issues/(\d+)/comments", WRITE_COMMENTS, self._create_comment
        yield "GET", r"/issues/comments/(\d+)", READ_COMMENTS, self._get_comment
        yield "PATCH", r"/issues/comments/(\d+)", WRITE_COMMENTS, self._edit_comment
        yield "GET", r"/issues", READ_ISSUES, self._list_issues
        yield "POST", r"/issues", WRITE_ISSUES, self._create_issue
        yield "GET", r"/issues/(\d+)", READ_ISSUES, self._get_issue
        yield "PATCH", r"/issues/(\d+)", WRITE_ISSUES, self._edit_issue
        yield "GET", r"/commits/([0-9a-f]{40})/pulls", COMMIT_PULLS, self._pulls_of_commit
        yield "GET", r"/pulls/(\d+)", READ_PULLS, self._get_pull
        yield "GET", r"/pulls", READ_PULLS, self._list_pulls
        yield "POST", r"/pulls", WRITE_PULLS, self._create_pull
        yield "PATCH", r"/pulls/(\d+)", WRITE_PULLS, self._edit_pull
        yield "GET", r"/git/ref/heads/(.+)", READ_CONTENTS, self._get_ref
        yield "POST", r"/git/refs", WRITE_CONTENTS, self._create_ref
        yield "PATCH", r"/git/refs/heads/(.+)", WRITE_CONTENTS, self._move_ref
        yield "GET", r"/git/commits/([0-9a-f]{40})", READ_CONTENTS, self._get_git_commit
        yield "POST", r"/git/trees", WRITE_CONTENTS, self._create_tree
        yield "POST", r"/git/commits", WRITE_CONTENTS, self._create_git_commit
        yield "GET", r"/compare/([0-9a-f]{40})\.\.\.([0-9a-f]{40})", READ_CONTENTS, self._compare

    def _page(self, items: list[Any], query: dict[str, str], path: str) -> tuple[int, Any, list[tuple[str, str]]]:
        per_page = int(query.get("per_page", 30))
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = []
        if page * per_page < len(items):
            rest = "&".join(f"{k}={v}" for k, v in {**query, "page": str(page + 1)}.items())
            headers.append(("Link", f'<{self.url}{path}?{rest}>; rel="next"'))
        return 200, chunk, headers

    @staticmethod
    def _too_long(body: Any, resource: str) -> tuple[int, Any, list[tuple[str, str]]] | None:
        if len((body or {}).get("body") or "") > BODY_LIMIT:
            error = {"resource": resource, "code": "custom", "field": "body"}
            error["message"] = f"body is too long (maximum is {BODY_LIMIT} characters)"
            return 422, {"message": "Validation Failed", "errors": [error]}, []
        return None

    def _list_comments(self, query: dict[str, str], _body: Any, number: str) -> tuple[int, Any, list[Any]]:
        if int(number) not in self.issues:
            return 404, {"message": "Not Found"}, []
        items = [self._comment_json(self.comments[c]) for c in self.issues[int(number)].comments]
        return self._page(items, query, f"/repos/{self.repository}/issues/{number}/comments")

    def _create_comment(self, _query: dict[str, str], body: Any, number: str) -> tuple[int, Any, list[Any]]:
        if int(number) not in self.issues:
            return 404, {"message": "Not Found"}, []
        refused = self._too_long(body, "IssueComment")
        if refused:
            return refused
        return 201, self._comment_json(self.comments[self._new_comment(int(number), body["body"], self._caller)]), []

    def _get_comment(self, _query: dict[str, str], _body: Any, comment_id: str) -> tuple[int, Any, list[Any]]:
        comment = self.comments.get(int(comment_id))
        return (200, self._comment_json(comment), []) if comment else (404, {"message": "Not Found"}, [])

    def _edit_comment(self, _query: dict[str, str], body: Any, comment_id: str) -> tuple[int, Any, list[Any]]:
        comment = self.comments.get(int(comment_id))
        if comment is None:
            return 404, {"message": "Not Found"}, []
        if comment.author != self._caller:
            return 403, {"message": "Resource not accessible by integration"}, []
        refused = self._too_long(body, "IssueComment")
        if refused:
            return refused
        comment.body, comment.edits = body["body"], comment.edits + 1
        return 200, self._comment_json(comment), []

    def _list_issues(self, query: dict[str, str], _body: Any) -> tuple[int, Any, list[Any]]:
        state = query.get("state", "open")
        labels = {label for label in query.get("labels", "").split(",") if label}
        found = [
            self._issue_json(i)
            for i in sorted(self.issues.values(), key=lambda i: i.number)
            if state in ("all", i.state) and labels <= set(i.labels)
        ]
        if query.get("direction", "desc") == "desc":
            found.reverse()
        return self._page(found, query, f"/repos/{self.repository}/issues")

    def _create_issue(self, _query: dict[str, str], body: Any) -> tuple[int, Any, list[Any]]:
        refused = self._too_long(body, "Issue")
        if refused:
            return refused
        number = self._new_issue(body["title"], body.get("body") or "", list(body.get("labels", [])), self._caller)
        return 201, self._issue_json(self.issues[number]), []

    def _get_issue(self, _query: dict[str, str], _body: Any, number: str) -> tuple[int, Any, list[Any]]:
        issue = self.issues.get(int(number))
        return (200, self._issue_json(issue), []) if issue else (404, {"message": "Not Found"}, [])

    def _edit_issue(self, _query: dict[str, str], body: Any, number: str) -> tuple[int, Any, list[Any]]:
        issue = self.issues.get(int(number))
        if issue is None:
            return 404, {"message": "Not Found"}, []
        refused = self._too_long(body, "Issue")
        if refused:
            return refused
        issue.body = body.get("body", issue.body)
        issue.state = body.get("state", issue.state)
        issue.state_reason = body.get("state_reason", issue.state_reason)
        return 200, self._issue_json(issue), []

    def _pulls_of_commit(self, query: dict[str, str], _body: Any, sha: str) -> tuple[int, Any, list[Any]]:
        found = [self._pull_json(p) for p in self.pulls.values() if sha in p.commits or sha == p.merge_commit_sha]
        return self._page(found, query, f"/repos/{self.repository}/commits/{sha}/pulls")

    def _compare(self, query: dict[str, str], _body: Any, base: str, head: str) -> tuple[int, Any, list[Any]]:
        """The commits `head` has that `base` has not, oldest first, from the real git history."""
        if self.git_dir is None:
            return 404, {"message": "Not Found"}, []
        listed = subprocess.run(
            ["git", "rev-list", "--reverse", f"{base}..{head}"],
            cwd=self.git_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if listed.returncode != 0:
            return 404, {"message": "No common ancestor between base and head"}, []
        shas = listed.stdout.split()
        status, page, headers = self._page(
            [{"sha": s} for s in shas], query, f"/repos/{self.repository}/compare/{base}...{head}"
        )
        return status, {"status": "ahead", "ahead_by": len(shas), "total_commits": len(shas), "commits": page}, headers

    def _get_pull(self, _query: dict[str, str], _body: Any, number: str) -> tuple[int, Any, list[Any]]:
        pull = self.pulls.get(int(number))
        return (200, self._pull_json(pull), []) if pull else (404, {"message": "Not Found"}, [])

    def _list_pulls(self, query: dict[str, str], _body: Any) -> tuple[int, Any, list[Any]]:
        state, head = query.get("state", "open"), query.get("head")
        owner = self.repository.split("/")[0]
        found = [
            self._pull_json(p)
            for p in sorted(self.pulls.values(), key=lambda p: p.number)
            if state in ("all", self.issues[p.number].state) and (head is None or head == f"{owner}:{p.head_ref}")
        ]
        return self._page(found, query, f"/repos/{self.repository}/pulls")

    def _create_pull(self, _query: dict[str, str], body: Any) -> tuple[int, Any, list[Any]]:
        refused = self._too_long(body, "PullRequest")
        if refused:
            return refused
        branch = body["head"]
        if branch not in self.refs:
            error = {"resource": "PullRequest", "field": "head", "code": "invalid"}
            return 422, {"message": "Validation Failed", "errors": [error]}, []
        number = self._new_issue(body["title"], body.get("body") or "", [], self._caller, is_pull=True)
        sha = self.refs[branch]
        self.pulls[number] = Pull(number, sha, commits=[sha], base=body["base"], head_ref=branch)
        return 201, self._pull_json(self.pulls[number]), []

    def _edit_pull(self, _query: dict[str, str], body: Any, number: str) -> tuple[int, Any, list[Any]]:
        pull = self.pulls.get(int(number))
        if pull is None:
            return 404, {"message": "Not Found"}, []
        refused = self._too_long(body, "PullRequest")
        if refused:
            return refused
        issue = self.issues[pull.number]
        issue.body = body.get("body", issue.body)
        issue.state = body.get("state", issue.state)
        return 200, self._pull_json(pull), []

    def _ref_json(self, branch: str) -> dict[str, Any]:
        sha = self.refs[branch]
        url = f"{self._base()}/git/refs/heads/{branch}"  # plural, as GitHub answers: where a PATCH goes
        return {"ref": f"refs/heads/{branch}", "object": {"sha": sha, "type": "commit"}, "url": url}

    def _get_ref(self, _query: dict[str, str], _body: Any, branch: str) -> tuple[int, Any, list[Any]]:
        return (200, self._ref_json(branch), []) if branch in self.refs else (404, {"message": "Not Found"}, [])

    def _create_ref(self, _query: dict[str, str], body: Any) -> tuple[int, Any, list[Any]]:
        branch = str(body["ref"]).removeprefix("refs/heads/")
        if branch in self.refs:
            return 422, {"message": "Reference already exists"}, []
        self.refs[branch] = body["sha"]
        return 201, self._ref_json(branch), []

    def _move_ref(self, _query: dict[str, str], body: Any, branch: str) -> tuple[int, Any, list[Any]]:
        if branch not in self.refs:
            return 422, {"message": "Reference does not exist"}, []
        if not body.get("force") and self.refs[branch] not in self.git_commits[body["sha"]].parents:
            return 422, {"message": "Update is not a fast forward"}, []
        self.refs[branch] = body["sha"]
        for pull in self.pulls.values():
            if pull.head_ref == branch and self.issues[pull.number].state == "open":
                pull.head_sha = body["sha"]
                pull.commits.append(body["sha"])
        return 200, self._ref_json(branch), []

    def _get_git_commit(self, _query: dict[str, str], _body: Any, sha: str) -> tuple[int, Any, list[Any]]:
        made = self.git_commits.get(sha)
        if made is not None:
            tree, parents = made.tree, list(made.parents)
        elif self.git_dir is not None:
            # A commit of the repository's own history: its tree and parents, from git.
            shown = subprocess.run(
                ["git", "show", "--no-patch", "--format=%T %P", sha],
                cwd=self.git_dir,
                capture_output=True,
                text=True,
                check=False,
            )
            if shown.returncode != 0:
                return 404, {"message": "Not Found"}, []
            tree, *parents = shown.stdout.split()
        else:
            return 404, {"message": "Not Found"}, []
        return (
            200,
            {
                "sha": sha,
                "url": f"{self._base()}/git/commits/{sha}",
                "tree": {"sha": tree, "url": f"{self._base()}/git/trees/{tree}"},
                "parents": [{"sha": p, "url": f"{self._base()}/git/commits/{p}"} for p in parents],
                "message": made.message if made else "",
            },
            [],
        )

    def _create_tree(self, _query: dict[str, str], body: Any) -> tuple[int, Any, list[Any]]:
        base = body.get("base_tree", "")
        files = {entry["path"]: entry["content"] for entry in body["tree"]}
        # Content-addressed, as git's: the same files over the same tree are the same tree.
        sha = hashlib.sha1(json.dumps([base, sorted(files.items())]).encode()).hexdigest()
        self.trees[sha] = (base, files)
        return 201, {"sha": sha, "url": f"{self._base()}/git/trees/{sha}", "tree": []}, []

    def _create_git_commit(self, _query: dict[str, str], body: Any) -> tuple[int, Any, list[Any]]:
        if body["tree"] not in self.trees:
            return 422, {"message": "Tree SHA does not exist"}, []
        sha = hashlib.sha1(f"{len(self.git_commits)} {json.dumps(body)}".encode()).hexdigest()
        files = self.trees[body["tree"]][1]
        self.git_commits[sha] = GitCommit(sha, body["tree"], tuple(body["parents"]), body["message"], files)
        _status, answer, _headers = self._get_git_commit({}, None, sha)
        return 201, answer, []


@contextmanager
def running(**kwargs: Any) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
