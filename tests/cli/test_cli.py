"""The one mapping from outcomes to exit statuses: usage errors exit 1 (2 means changes or drift), unwritable
outputs are one line, Ctrl-C exits 130, and no error prints a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.sandbox import CleanRoomsSandbox

from ..helpers import clean_environ, run_cli, run_process, write_desired


@pytest.mark.parametrize(
    "args",
    [
        ["drift", "--no-such-option"],
        ["drift", "--format", "md"],
        ["plan", "--detailed-exitcode", "--format", "md"],
        ["apply", "--max-changes", "-1"],
        ["nonsense"],
        ["--assume-role-template", "arn:aws:iam::1:role/x", "plan"],
    ],
)
def test_usage_errors_exit_1_never_2(args: list[str]) -> None:
    result = run_cli(args)
    assert result.code == 1, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "rror" in result.stderr


def test_help_and_version_exit_0() -> None:
    assert run_cli(["--help"]).code == 0
    version = run_cli(["--version"])
    assert (version.code, version.stdout.startswith("reconciler, version ")) == (0, True)


def test_plan_out_creates_its_directory_and_an_unwritable_one_is_one_line(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    write_desired(tmp_path / "d", "a.yaml", sandbox.create_membership("a"), queryLogStatus="ENABLED")
    saved = tmp_path / "missing" / "dir" / "p.json"
    assert run_cli(["plan", "--out", str(saved), str(tmp_path / "d")], env=sandbox.client_env()).code == 0
    assert saved.read_text().startswith('{\n  "formatVersion": 1')
    (tmp_path / "file").write_text("")
    result = run_cli(
        ["plan", "--out", str(tmp_path / "file" / "p.json"), str(tmp_path / "d")], env=sandbox.client_env()
    )
    assert result.code == 1
    assert result.stderr.splitlines() == [
        f"error: cannot write the plan to {tmp_path}/file/p.json: File exists: {tmp_path}/file"
    ]


def test_an_audit_log_that_cannot_be_opened_stops_apply_before_any_write(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    write_desired(tmp_path / "d", "a.yaml", sandbox.create_membership("a"), queryLogStatus="ENABLED")
    (tmp_path / "file").write_text("")
    audit = tmp_path / "file" / "audit.jsonl"
    result = run_cli(
        ["apply", "--auto-approve", "--audit-log", str(audit), str(tmp_path / "d")], env=sandbox.client_env()
    )
    assert result.code == 1
    assert result.stderr.splitlines() == [f"error: cannot write the audit log {audit}: File exists: {tmp_path}/file"]
    assert sandbox.requests("UpdateMembership") == []


def test_ctrl_c_during_plan_exits_130(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    for i in range(20):
        write_desired(tmp_path, f"m{i}.yaml", sandbox.create_membership(f"c{i}"), queryLogStatus="ENABLED")
    sandbox.set_latency(0.5)
    started = time.monotonic()
    # A shell that runs the tests in the background (`make test &`) leaves SIGINT ignored, and a child
    # inherits that: the reconciler starts with the default disposition, as a terminal's Ctrl-C finds it.
    default_sigint = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            default_sigint,
            sys.executable,
            "-m",
            "reconciler",
            "--parallelism",
            "1",
            "plan",
            str(tmp_path),
        ],
        env=clean_environ(sandbox.client_env()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not sandbox.requests() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    # Queued reads are dropped: only the one in flight is waited for, not the other 18 (9 s at 0.5 s each).
    assert len(sandbox.requests()) <= 3
    assert time.monotonic() - started < 8


def test_a_scope_that_selects_nothing_is_an_error_for_every_command(sandbox: CleanRoomsSandbox, tmp_path: Path) -> None:
    desired = tmp_path / "d"
    mid = sandbox.create_membership("a")
    write_desired(desired, "a.yaml", mid, queryLogStatus="ENABLED")
    env = sandbox.client_env()
    saved = tmp_path / "p.json"
    assert run_cli(["plan", "--out", str(saved), str(desired)], env=env).code == 0
    # A malformed target is a usage error; a well-formed one that no file is in selects nothing.
    malformed = run_cli(["plan", "--target", "default/us-east1", str(desired)], env=env)
    assert malformed.code == 1 and "'default/us-east1': expected ACCOUNT/REGION" in malformed.stderr
    typo = ["--target", "default/us-east-2"]
    for args in (
        ["plan", *typo, str(desired)],
        ["drift", *typo, str(desired)],
        ["apply", "--auto-approve", *typo, str(desired)],
        ["apply", "--auto-approve", "--plan", str(saved), *typo],
        ["apply", "--auto-approve", "--plan", str(saved), "--membership", "00000000-0000-4000-8000-000000000009"],
    ):
        result = run_cli(args, env=env)
        assert result.code == 1, (args, result)
        assert "error: " in result.stderr and "selects no membership" in result.stderr, (args, result.stderr)
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in (["plan"], ["drift"], ["apply", "--auto-approve"], ["targets"]):
        result = run_cli([*command, str(empty)], env=env)
        assert result.code == 1
        assert f"error: no membership files (*.yaml, *.yml) under {empty}" in result.stderr
    assert sandbox.requests("UpdateMembership") == []


def test_an_endpoint_that_never_answers_ends_the_command_within_60_s(tmp_path: Path) -> None:
    import socket

    for i in range(20):
        write_desired(tmp_path, f"m{i:02}.yaml", f"00000000-0000-4000-8000-{i:012d}", queryLogStatus="ENABLED")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # connections complete in the kernel; nobody ever reads or answers
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
        env["AWS_DEFAULT_REGION"] = "us-east-1"
        started = time.monotonic()
        result = run_process(["plan", str(tmp_path)], env=env, timeout=120)
        took = time.monotonic() - started
    assert result.code == 1
    assert took < 60, took
    [message] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "did not answer" in message and endpoint in message, result.stderr
    assert "Reading memberships: 0 of 20 done; still working" in result.stderr  # life shown every 10 s
    assert "Traceback" not in result.stderr


def test_a_closed_port_ends_the_command_at_once(tmp_path: Path) -> None:
    for i in range(20):
        write_desired(tmp_path, f"m{i:02}.yaml", f"00000000-0000-4000-8000-{i:012d}", queryLogStatus="ENABLED")
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
    started = time.monotonic()
    result = run_cli(["--region", "us-east-1", "drift", str(tmp_path)], env=env)
    assert result.code == 1
    assert time.monotonic() - started < 10
    assert result.stderr.count("error: ") == 1 and "http://127.0.0.1:9" in result.stderr, result.stderr
