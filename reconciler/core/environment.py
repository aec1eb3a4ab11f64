"""What a command gets from the world it runs in: streams, terminals, colour, variables and the clock.

One object, made from the process in `cli.exits.main` and replaced by tests (HTTPie's `Environment`), so no
module reads `sys.stdout`, `isatty()` or `os.environ` on its own.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

CONFIG_NAME = "reconciler.yaml"
CONFIG_VARIABLE = "RECONCILER_CONFIG"


def config_path(option: Path | None, environ: Mapping[str, str]) -> Path | None:
    """Which organisation config applies: --config, else RECONCILER_CONFIG, else ./reconciler.yaml if present.
    One named by the option or the variable must exist (config.load_config says so): a typo never means "no
    guardrails". Here, not in config.py, so a run with no config never imports it (nor its models)."""
    if option is not None:
        return option
    if environ.get(CONFIG_VARIABLE):
        return Path(environ[CONFIG_VARIABLE])
    default = Path(CONFIG_NAME)
    return default if default.exists() else None


@dataclass(frozen=True)
class GitHubContext:
    """The GitHub Actions variables the reconciler uses; empty outside a workflow run."""

    actions: bool = False
    step_summary: str | None = None
    server_url: str | None = None
    repository: str | None = None
    sha: str | None = None
    run_id: str | None = None
    api_url: str | None = None
    token: str | None = None
    run_attempt: str | None = None
    workflow: str | None = None
    job: str | None = None
    ref_name: str | None = None

    @property
    def run_url(self) -> str | None:
        """The page of this workflow run, whose artifacts hold what a comment has no room for."""
        if not (self.server_url and self.repository and self.run_id):
            return None
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    def user_agent(self, version: str) -> str:
        """The User-Agent GitHub asks API clients to send: the tool, and in a workflow the run and job that
        made the call, so an organisation's audit log (and a test's fake GitHub) can tell who asked."""
        agent = f"cleanrooms-reconciler/{version}"
        if self.actions and self.repository and self.run_id:
            where = f"{self.repository} run {self.run_id}/{self.run_attempt or 1}"
            agent += f" (github-actions; {where}; job {self.job or '-'})"
        # A header holds printable ASCII only: anything else from the variables would fail every call.
        return "".join(c if " " <= c <= "~" else "?" for c in agent)

    @classmethod
    def from_variables(cls, variables: Mapping[str, str]) -> GitHubContext:
        return cls(
            actions=variables.get("GITHUB_ACTIONS") == "true",
            step_summary=variables.get("GITHUB_STEP_SUMMARY") or None,
            server_url=variables.get("GITHUB_SERVER_URL") or None,
            repository=variables.get("GITHUB_REPOSITORY") or None,
            sha=variables.get("GITHUB_SHA") or None,
            run_id=variables.get("GITHUB_RUN_ID") or None,
            api_url=variables.get("GITHUB_API_URL") or None,
            token=variables.get("GITHUB_TOKEN") or None,
            run_attempt=variables.get("GITHUB_RUN_ATTEMPT") or None,
            workflow=variables.get("GITHUB_WORKFLOW") or None,
            job=variables.get("GITHUB_JOB") or None,
            ref_name=variables.get("GITHUB_REF_NAME") or None,
        )


@dataclass
class Environment:
    stdout: TextIO
    stderr: TextIO
    stdin_isatty: bool = False
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_os(cls) -> Environment:
        return cls(
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdin_isatty=_isatty(sys.stdin),
            stdout_isatty=_isatty(sys.stdout),
            stderr_isatty=_isatty(sys.stderr),
            variables=dict(os.environ),
        )

    @property
    def colour(self) -> bool:
        # https://no-color.org: any value, even empty, turns colour off.
        return self.stdout_isatty and "NO_COLOR" not in self.variables

    @property
    def github(self) -> GitHubContext:
        return GitHubContext.from_variables(self.variables)


def _isatty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except ValueError:  # a closed stream
        return False
