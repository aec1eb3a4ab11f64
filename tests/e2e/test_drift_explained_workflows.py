"""drift.yml under act, the drift that explains itself: the nightly issue says who changed a membership; with
adoption on, ONE adopt pull request is opened and moved night after night, linked from the issue beside the
way to revert, and closed once the drift is gone; a change event (repository_dispatch) checks just its
membership and tells the issue without closing it."""

from __future__ import annotations

import subprocess

from reconciler.sandbox import CleanRoomsSandbox

from ..fakegithub import FakeGitHub
from .harness import Repository

ALICE = "arn:aws:sts::123456789012:assumed-role/Admin/alice"
BRANCH = "cleanrooms/adopt-live-settings"
NIGHTLY = {"schedule": "17 4 * * *"}


def three(repository: Repository, sandbox: CleanRoomsSandbox) -> list[str]:
    """Three memberships whose desired state is query logging on, as they are live."""
    ids = [sandbox.create_membership(name, queryLogStatus="ENABLED") for name in ("acme", "globex", "initech")]
    for name, mid in zip(("acme", "globex", "initech"), ids, strict=True):
        repository.write(
            f"desired-state/{name}.yaml", f"membershipIdentifier: {mid}  # {name}\nqueryLogStatus: ENABLED\n"
        )
    repository.commit("desired state")
    return ids


def test_nightly_drift_with_adoption_keeps_one_pull_request_that_the_issue_links_and_names_who_changed_it(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    acme, globex, _initech = three(repository, sandbox)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repository.root, capture_output=True, text=True, check=True
    ).stdout.strip()
    repository.variables["CLEANROOMS_DRIFT_ADOPT"] = "true"

    sandbox.write(acme, {"queryLogStatus": "DISABLED"}, by=ALICE, source_ip="198.51.100.4")
    night1 = repository.run("drift.yml", "schedule", NIGHTLY)
    assert night1.code == 0, night1.log
    [pull] = github.pulls_from(BRANCH)
    assert (pull.title, pull.state) == ("Adopt live Clean Rooms settings", "open")
    assert github.branch_files(BRANCH) == {
        "desired-state/acme.yaml": f"membershipIdentifier: {acme}  # acme\nqueryLogStatus: DISABLED\n"
    }
    assert github.git_commits[github.refs[BRANCH]].parents == (head,)  # on the commit that was checked
    [issue] = github.issues_labelled("drift")
    assert f"- **adopt** (the desired state follows the live settings): merge #{pull.number}" in issue.body
    assert "run [apply](https://github.localhost/acme/cleanrooms/actions/workflows/apply.yml) with `approve`" in (
        issue.body
    )
    shown = issue.body.replace("&#58;", ":")
    assert f"- changed by: UpdateMembership by {ALICE} (session alice) at " in shown
    assert "from 198.51.100.4 via the console: queryLogStatus" in shown
    # Adopting writes to git from the job that holds no AWS credentials; the issue is written by another.
    writers = {(c.job, c.method, c.path.split("/")[4]) for c in github.writes()}
    assert writers == {
        ("adopt", "POST", "git"),
        ("adopt", "POST", "pulls"),
        ("report", "POST", "issues"),
    }

    sandbox.write(globex, {"queryLogStatus": "DISABLED"})  # a second night: more drift
    night2 = repository.run("drift.yml", "schedule", NIGHTLY)
    assert night2.code == 0, night2.log
    assert [p.number for p in github.pulls_from(BRANCH)] == [pull.number]
    assert sorted(github.branch_files(BRANCH)) == ["desired-state/acme.yaml", "desired-state/globex.yaml"]
    assert f"membership {globex}" in github.issues[pull.number].body
    assert [i.number for i in github.issues_labelled("drift")] == [issue.number]
    update = github.comments_on(issue.number)[-1].body
    assert "2 drifted in 1 account/region target(s)" in update and f"merge #{pull.number}" in update

    # The drift is put back by hand: the issue and the adopt pull request both close.
    sandbox.write(acme, {"queryLogStatus": "ENABLED"})
    sandbox.write(globex, {"queryLogStatus": "ENABLED"})
    night3 = repository.run("drift.yml", "schedule", NIGHTLY)
    assert night3.code == 0, night3.log
    assert github.issues[pull.number].state == "closed" and github.issues[issue.number].state == "closed"


def test_a_change_event_checks_only_its_membership_and_tells_the_issue_without_closing_it(
    repository: Repository, sandbox: CleanRoomsSandbox, github: FakeGitHub
) -> None:
    acme, globex, initech = three(repository, sandbox)
    sandbox.write(acme, {"queryLogStatus": "DISABLED"})
    sandbox.write(globex, {"queryLogStatus": "DISABLED"})
    night = repository.run("drift.yml", "schedule", NIGHTLY)
    assert night.code == 0, night.log
    [issue] = github.issues_labelled("drift")
    nightly = issue.body

    sandbox.write(acme, {"queryLogStatus": "ENABLED"})  # put back; EventBridge sends "Membership Updated"
    sandbox.clear_requests()

    def dispatch(membership: str) -> dict[str, object]:
        payload = {"account": sandbox.account_id, "region": "us-east-1", "membershipId": membership}
        return {"action": "cleanrooms-membership-updated", "client_payload": payload}

    event = dispatch(f"arn:aws:cleanrooms:us-east-1:{sandbox.account_id}:membership/{acme}")  # as the rule sends it
    run = repository.run("drift.yml", "repository_dispatch", event)
    assert run.code == 0, run.log
    assert {r.membership_id for r in sandbox.requests("GetMembership")} == {acme}
    assert sandbox.requests("ListMemberships") == []  # no listing of what is unmanaged: one membership only
    assert github.issues[issue.number].state == "open" and github.issues[issue.number].body == nightly
    told = github.comments_on(issue.number)[-1].body
    assert told.startswith(f"Checked `{acme}` after a change ([run](")
    assert told.endswith("no unexpected drift. The issue stays open until a check of every membership.")
    assert "drift/adopt" not in run.job_results()

    # An event about a membership no file names: said, nothing checked, nothing written, and no red run.
    writes = len(github.writes())
    sandbox.clear_requests()
    unmanaged = repository.run("drift.yml", "repository_dispatch", dispatch("0" * 8 + initech[8:]))
    assert unmanaged.code == 0, unmanaged.log
    assert "is in no file under desired-state: not checked" in unmanaged.log
    assert sandbox.requests() == [] and len(github.writes()) == writes
    assert set(unmanaged.job_results()) == {"drift/targets"}
