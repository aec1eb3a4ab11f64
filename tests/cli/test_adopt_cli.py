"""`adopt`, end to end as a user runs it against the local endpoint: drifted files take the live values with their
comments kept, so a plan right after shows no change; what a file cannot hold, or a policy forbids, is said and
not written; nothing is ever written to AWS."""

from __future__ import annotations

from pathlib import Path

from reconciler.sandbox import CleanRoomsSandbox

from ..helpers import Result, job_results, run_cli

ROLE = "arn:aws:iam::123456789012:role/CleanRoomsJobResults"


def cli(sandbox: CleanRoomsSandbox, *args: str, cwd: Path | None = None) -> Result:
    return run_cli(list(args), env=sandbox.client_env(), cwd=cwd)


def test_drifted_fields_take_the_live_values_comments_kept_and_plan_shows_no_change(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="ENABLED", tags={"team": "data"})
    steady = sandbox.create_membership("globex", queryLogStatus="ENABLED")
    path = tmp_path / "acme.yaml"
    path.write_text(
        "# acme: reviewed by data security\n"
        f"membershipIdentifier: {mid}\n"
        "queryLogStatus: ENABLED   # on, as agreed\n"
        "tags:\n  team: data\n"
    )
    (tmp_path / "globex.yaml").write_text(f"membershipIdentifier: {steady}\nqueryLogStatus: ENABLED\n")
    sandbox.write(mid, {"queryLogStatus": "DISABLED", "defaultJobResultConfiguration": job_results("b-c", ROLE)})
    sandbox.set_tags(mid, {"team": "ml", "owner": "alice"})
    sandbox.clear_requests()

    adopted = cli(sandbox, "adopt", str(tmp_path))
    assert adopted.code == 0, adopted.stdout + adopted.stderr
    assert adopted.stdout.splitlines() == [
        f"adopted {path}: membership {mid}: queryLogStatus, tags",
        "Adopt: 1 file(s) rewritten, 0 value(s) not adopted.",
    ]
    assert path.read_text() == (
        "# acme: reviewed by data security\n"
        f"membershipIdentifier: {mid}\n"
        "queryLogStatus: DISABLED  # on, as agreed\n"  # the comment keeps its column
        "tags:\n  team: ml\n  owner: alice\n"
    )
    assert {r.method for r in sandbox.requests()} == {"GET"}  # adopting writes files, never AWS
    again = cli(sandbox, "plan", "--detailed-exitcode", str(tmp_path))
    assert again.code == 0 and "No changes." in again.stdout, again.stdout
    nothing = cli(sandbox, "adopt", str(tmp_path))
    assert nothing.code == 0 and "Nothing to adopt: live settings match the desired state." in nothing.stdout


def test_a_value_from_the_defaults_is_written_into_the_file_saying_so_and_a_forbidden_one_is_not(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "defaults:\n  - paths: ['**']\n    settings: {jobLogStatus: ENABLED}\n"
        "policies:\n  - name: query-logging-on\n    rule: \"membership.queryLogStatus == 'ENABLED'\"\n"
    )
    desired = tmp_path / "desired-state"
    desired.mkdir()
    shared = sandbox.create_membership("acme", queryLogStatus="ENABLED", jobLogStatus="ENABLED")
    forbidden = sandbox.create_membership("globex", queryLogStatus="ENABLED", jobLogStatus="ENABLED")
    (desired / "acme.yaml").write_text(f"membershipIdentifier: {shared}\nqueryLogStatus: ENABLED\n")
    (desired / "globex.yaml").write_text(f"membershipIdentifier: {forbidden}\nqueryLogStatus: ENABLED\n")
    sandbox.write(shared, {"jobLogStatus": "DISABLED"})
    sandbox.write(forbidden, {"queryLogStatus": "DISABLED"})
    before = (desired / "globex.yaml").read_text()

    adopted = cli(sandbox, "adopt", cwd=tmp_path)
    assert adopted.code == 1
    assert adopted.stdout.splitlines()[0] == (
        f"adopted desired-state/acme.yaml: membership {shared}: jobLogStatus; jobLogStatus came from "
        "defaults[0] (**) in reconciler.yaml: the live value is written into the file"
    )
    assert (desired / "acme.yaml").read_text().endswith("jobLogStatus: DISABLED\n")
    assert (
        f"error: desired-state/globex.yaml: membership {forbidden}: not adopted, the live values would break the "
        "file: desired-state/globex.yaml:2:1: policy query-logging-on" in adopted.stderr
    )
    assert (desired / "globex.yaml").read_text() == before
    assert "Adopt: 1 file(s) rewritten, 1 value(s) not adopted." in adopted.stdout
