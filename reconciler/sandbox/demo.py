"""`reconciler demo`: the whole loop against the embedded local Clean Rooms endpoint.

No AWS account, no network beyond 127.0.0.1: memberships are seeded in reconciler.sandbox, the desired
state differs from them, and the real CLI runs each step in a subprocess, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import CleanRoomsSandbox

ROLE = "arn:aws:iam::123456789012:role/CleanRoomsQueryResults"
JOB_ROLE = "arn:aws:iam::123456789012:role/CleanRoomsJobResults"


@dataclass(frozen=True)
class Step:
    title: str
    args: Sequence[str]
    expected_exit: int


def seed(sandbox: CleanRoomsSandbox, directory: Path) -> dict[str, str]:
    """Three memberships as someone left them by hand, and the desired state the team agreed on."""
    ids = {
        "acme": sandbox.create_membership(
            "acme-retail-measurement",
            queryLogStatus="DISABLED",
            defaultResultConfiguration={"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "old-bucket"}}},
        ),
        "globex": sandbox.create_membership("globex-audience-overlap", queryLogStatus="ENABLED"),
        "initech": sandbox.create_membership("initech-supplier-insights", queryLogStatus="ENABLED"),
    }
    files: dict[str, dict[str, object]] = {
        "acme-retail-measurement.yaml": {
            "membershipIdentifier": ids["acme"],
            "collaborationName": "acme-retail-measurement",
            "queryLogStatus": "ENABLED",
            "jobLogStatus": "ENABLED",
            "defaultResultConfiguration": {
                "roleArn": ROLE,
                "outputConfiguration": {
                    "s3": {"resultFormat": "PARQUET", "bucket": "acme-cleanrooms-results", "keyPrefix": "retail/"}
                },
            },
        },
        "globex-audience-overlap.yaml": {
            "membershipIdentifier": ids["globex"],
            "queryLogStatus": "ENABLED",
            "defaultJobResultConfiguration": {
                "roleArn": JOB_ROLE,
                "outputConfiguration": {"s3": {"bucket": "globex-jobs", "keyPrefix": "overlap/"}},
            },
        },
        "initech-supplier-insights.yaml": {"membershipIdentifier": ids["initech"], "queryLogStatus": "ENABLED"},
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, document in files.items():
        lines = [f"{key}: {json.dumps(value)}" for key, value in document.items()]
        (directory / name).write_text("\n".join(lines) + "\n")
    return ids


def run(
    echo: Callable[[str], None],
    heading: Callable[[str], None],
    workdir: Path,
) -> bool:
    """Run the story, printing through `echo`/`heading`; True when every step did what it should."""
    with CleanRoomsSandbox() as sandbox:
        desired = workdir / "desired-state"
        ids = seed(sandbox, desired)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | sandbox.client_env()
        env["NO_COLOR"] = "1"
        ok = True
        for number, step in enumerate(_steps(desired, sandbox, ids), start=1):
            heading(f"{number}. {step.title}")
            if not step.args:
                continue
            echo(f"$ reconciler {' '.join(step.args)}")
            proc = subprocess.run(
                [sys.executable, "-m", "reconciler", *step.args],
                env=env,
                cwd=workdir,
                capture_output=True,
                text=True,
                check=False,
            )
            echo((proc.stdout + proc.stderr).rstrip())
            verdict = "as expected" if proc.returncode == step.expected_exit else f"expected {step.expected_exit}"
            echo(f"(exit {proc.returncode}: {verdict})")
            ok = ok and proc.returncode == step.expected_exit
        return ok


def _steps(desired: Path, sandbox: CleanRoomsSandbox, ids: dict[str, str]) -> Iterator[Step]:
    path = desired.name
    yield Step("Validate the desired state (no AWS call)", ["validate", path], 0)
    yield Step("Plan: what would change", ["plan", path], 0)
    yield Step("Apply: send only the changed fields", ["apply", "--auto-approve", path], 0)
    yield Step("Plan again: nothing left to do", ["plan", "--detailed-exitcode", path], 0)
    sandbox.write(ids["initech"], {"queryLogStatus": "DISABLED"})
    yield Step("Someone turns query logging off in the console for initech-supplier-insights", [], 0)
    yield Step("Drift: the nightly check catches it (exit 2)", ["drift", path], 2)
