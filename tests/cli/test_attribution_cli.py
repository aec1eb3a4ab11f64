"""Drift that says who changed it, end to end against the local endpoint: CloudTrail's write events (the
sandbox records them) name the principal, time, source and client of each drifted membership, this tool's own
writes told apart; denied, it says why and drift reports as before; one paced lookup pass per account and
region, not a call per membership."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from reconciler.sandbox import CleanRoomsSandbox, Fault

from ..helpers import Result, run_cli, write_desired

ALICE = "arn:aws:sts::111122223333:assumed-role/Admin/alice"


def cli(sandbox: CleanRoomsSandbox, *args: str) -> Result:
    return run_cli(list(args), env=sandbox.client_env())


def test_an_out_of_band_change_names_its_principal_time_and_source_and_our_own_write_is_told_apart(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    ours = sandbox.create_membership("acme", queryLogStatus="DISABLED")
    theirs = sandbox.create_membership("globex", queryLogStatus="ENABLED")
    write_desired(tmp_path, "acme.yaml", ours, queryLogStatus="ENABLED")
    write_desired(tmp_path, "globex.yaml", theirs, queryLogStatus="ENABLED")
    assert cli(sandbox, "apply", "--auto-approve", str(tmp_path)).code == 0
    sandbox.write(ours, {"jobLogStatus": "ENABLED"})  # unmanaged: no drift, but a write in the trail
    sandbox.write(theirs, {"queryLogStatus": "DISABLED"}, by=ALICE, source_ip="198.51.100.4")
    write_desired(tmp_path, "acme.yaml", ours, queryLogStatus="DISABLED")  # git moves: ours drifts too
    sandbox.clear_requests()

    text = cli(sandbox, "drift", str(tmp_path))
    assert text.code == 2, text.stdout + text.stderr
    lines = text.stdout.splitlines()
    at = lines.index(next(line for line in lines if line.startswith(f"~ membership {theirs}")))
    assert lines[at + 2].startswith(f"    changed by: UpdateMembership by {ALICE} (session alice) at ")
    assert lines[at + 2].endswith(" from 198.51.100.4 via the console: queryLogStatus")
    mine = lines.index(next(line for line in lines if line.startswith(f"~ membership {ours}")))
    assert lines[mine + 2].startswith("    changed by: UpdateMembership by this tool at ")
    assert lines[mine + 2].endswith("via this tool: queryLogStatus")
    assert [r.operation for r in sandbox.requests() if r.operation == "LookupEvents"] == ["LookupEvents"]

    report = json.loads(cli(sandbox, "drift", "--format", "json", str(tmp_path)).stdout)
    by_id = {c["membershipIdentifier"]: c["attribution"] for c in report["changes"]}
    [write] = by_id[theirs]["writes"]
    assert (write["principal"], write["session"], write["source"], write["ours"]) == (
        ALICE,
        "alice",
        "198.51.100.4",
        False,
    )
    assert write["fields"] == ["queryLogStatus"] and by_id[theirs]["unknown"] is None
    assert by_id[ours]["writes"][0]["ours"] is True

    markdown = cli(sandbox, "drift", "--format", "markdown", str(tmp_path)).stdout
    assert f"- changed by: UpdateMembership by {ALICE} (session alice) at " in markdown.replace("&#58;", ":")


def test_lookup_denied_says_unknown_and_drift_exits_as_before_and_it_can_be_turned_off(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    mid = sandbox.create_membership("acme", queryLogStatus="ENABLED")
    write_desired(tmp_path, "acme.yaml", mid, queryLogStatus="DISABLED")
    sandbox.inject("LookupEvents", rate=1.0, fault=Fault(403))
    denied = cli(sandbox, "drift", str(tmp_path))
    assert denied.code == 2, denied.stdout + denied.stderr
    assert "    changed by: unknown (AccessDeniedException: Injected fault)" in denied.stdout
    sandbox.clear_requests()
    off = cli(sandbox, "drift", "--no-attribution", str(tmp_path))
    assert off.code == 2 and "changed by" not in off.stdout
    assert [r.operation for r in sandbox.requests()] == ["GetMembership"]


def test_three_hundred_drifted_memberships_cost_one_paced_lookup_pass_not_a_call_each(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    for i in range(300):
        mid = sandbox.create_membership(f"m{i}", queryLogStatus="ENABLED")
        write_desired(tmp_path, f"m{i:03d}.yaml", mid, queryLogStatus="ENABLED")
        sandbox.write(mid, {"queryLogStatus": "DISABLED"}, by=ALICE)
    sandbox.clear_requests()
    report = cli(sandbox, "drift", "--format", "json", str(tmp_path))
    assert report.code == 2
    changes = json.loads(report.stdout)["changes"]
    assert len(changes) == 300 and all(c["attribution"]["writes"][0]["principal"] == ALICE for c in changes)
    lookups = [r.time for r in sandbox.requests() if r.operation == "LookupEvents"]
    assert len(lookups) == 6  # 300 events, 50 a page
    gaps = [later - earlier for earlier, later in itertools.pairwise(lookups)]
    assert min(gaps) >= 0.5  # under CloudTrail's 2 requests a second


def test_drift_by_a_principal_ignore_changes_by_lists_is_expected_judged_on_who_never_on_the_value(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        "drift:\n  ignoreChangesBy: ['arn:aws:sts::*:assumed-role/BreakGlass/*']\n"
    )
    desired = tmp_path / "desired-state"
    by_break_glass = sandbox.create_membership("acme", queryLogStatus="ENABLED")
    by_alice = sandbox.create_membership("globex", queryLogStatus="ENABLED")
    write_desired(desired, "acme.yaml", by_break_glass, queryLogStatus="ENABLED")
    write_desired(desired, "globex.yaml", by_alice, queryLogStatus="ENABLED")
    bob = "arn:aws:sts::111122223333:assumed-role/BreakGlass/bob"
    sandbox.write(by_break_glass, {"queryLogStatus": "DISABLED"}, by=bob)
    sandbox.write(by_alice, {"queryLogStatus": "DISABLED"}, by=ALICE)
    result = run_cli(["drift", "--format", "json"], env=sandbox.client_env(), cwd=tmp_path)
    assert result.code == 2  # still drift, still reported
    attribution = {c["membershipIdentifier"]: c["attribution"] for c in json.loads(result.stdout)["changes"]}
    assert attribution[by_break_glass]["expected"] == ["arn:aws:sts::*:assumed-role/BreakGlass/*"]
    assert attribution[by_alice]["expected"] == []
    text = run_cli(["drift"], env=sandbox.client_env(), cwd=tmp_path).stdout
    assert "    expected: every write is by a principal drift.ignoreChangesBy lists (" in text
