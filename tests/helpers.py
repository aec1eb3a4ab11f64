"""Run the CLI as a user would: in-process through `reconciler.cli.run` with a clean environment, or as a
real process where a process is the point (signals, a terminal, the demo)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.cli import run
from reconciler.core.environment import Environment


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without AWS, GitHub or reconciler settings, reaching only loopback, plus `extra`.

    The one place tests decide what a command sees: a RECONCILER_* or AWS_* variable exported in the
    developer's shell never leaks into a test."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_", "RECONCILER_"))}
    base |= {
        "NO_COLOR": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    return base | dict(extra or {})


# Kept under its old name: the signal and terminal tests build their own processes with it.
subprocess_env = clean_environ


@contextmanager
def environ(variables: Mapping[str, str], cwd: Path | None) -> Iterator[None]:
    """os.environ and the working directory as a fresh process would have them (boto3 and click read both)."""
    saved, here = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(variables)
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)


def run_cli(args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Result:
    """Run the CLI in this process, with its own streams and an environment that reaches only loopback."""
    variables = clean_environ(env)
    stdout, stderr = io.StringIO(), io.StringIO()
    with environ(variables, cwd):
        code = run(list(args), Environment(stdout, stderr, variables=variables))
    result = Result(code, stdout.getvalue(), stderr.getvalue())
    assert "this is a bug in reconciler" not in result.stderr, result.stderr
    return result


def run_process(
    args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> Result:
    """Run `python -m reconciler` in a subprocess: for what only a real process shows."""
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        env=clean_environ(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def spawn(
    args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None, *, quiet: bool = False
) -> subprocess.Popen[str]:
    """`python -m reconciler ARGS` started, for a test that signals it while it runs; `quiet` drops its
    output (a process about to be killed, whose pipes nobody reads)."""
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        env=clean_environ(env),
        cwd=cwd,
        stdout=output,
        stderr=output,
        text=True,
    )


def write_desired(directory: Path, name: str, membership_id: str, **settings: object) -> Path:
    """A desired-state file; JSON is YAML, so the fields are written exactly as given."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"membershipIdentifier: {membership_id}"]
    lines += [f"{key}: {json.dumps(value)}" for key, value in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def query_results(bucket: str = "results-bucket", fmt: str = "CSV", **s3: object) -> dict[str, object]:
    return {"outputConfiguration": {"s3": {"resultFormat": fmt, "bucket": bucket, **s3}}}


JOB_ROLE = "arn:aws:iam::123456789012:role/CleanRoomsJobResults"


def job_results(bucket: str = "jobs-bucket", role: str = JOB_ROLE, **s3: object) -> dict[str, object]:
    return {"roleArn": role, "outputConfiguration": {"s3": {"bucket": bucket, **s3}}}
