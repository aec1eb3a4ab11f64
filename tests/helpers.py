"""Run the CLI as a user would: a real process, an environment that reaches only loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without AWS or GitHub settings, plus `extra`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_", "RECONCILER_"))}
    base |= {
        "NO_COLOR": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    return base | (extra or {})


def run_cli(
    args: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> Result:
    """Run `python -m reconciler` in a subprocess, with an environment that can only reach loopback."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_"))}
    base |= {
        "NO_COLOR": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        env=base | (env or {}),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


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
