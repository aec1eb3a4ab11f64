"""The GitHub workflows keep their promises: triggers, concurrency, least privilege, pinned actions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from .e2e.harness import Arrival, jobs_after_cancel, started

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load((WORKFLOWS / name).read_text())
    return loaded


def all_workflows() -> dict[str, dict[str, Any]]:
    return {path.name: workflow(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job.get("steps", [])
    return found


def test_the_four_workflows_exist() -> None:
    assert sorted(all_workflows()) == ["apply.yml", "ci.yml", "drift.yml", "plan.yml"]


def test_no_workflow_uses_pull_request_target() -> None:
    for name, flow in all_workflows().items():
        assert "pull_request_target" not in flow["on"], name
        assert "workflow_run" not in flow["on"], name  # the other trigger that runs with secrets after a fork


def test_triggers() -> None:
    assert workflow("ci.yml")["on"] == {"push": {"branches": ["main"]}, "pull_request": None}
    # reconciler.yaml changes every file's effective settings (defaults) and what is allowed (policies).
    watched = ["desired-state/**", "reconciler.yaml"]
    # No paths filter: the plan workflow's `result` job is the required check, which must report on every
    # pull request into main (and on a merge queue's merge commit).
    assert workflow("plan.yml")["on"] == {"pull_request": {"branches": ["main"]}, "merge_group": None}
    apply = workflow("apply.yml")["on"]
    assert apply["push"] == {"branches": ["main"], "paths": watched}
    assert set(apply["workflow_dispatch"]["inputs"]) == {"approve", "pull-request"}  # a re-approved plan
    drift = workflow("drift.yml")["on"]
    assert set(drift) == {"schedule", "workflow_dispatch", "repository_dispatch"}
    assert len(drift["schedule"]) == 1
    assert drift["workflow_dispatch"]["inputs"]["adopt"] == {
        "description": "Open or update ONE pull request that makes the desired state follow the live settings",
        "type": "boolean",
        "default": False,
    }
    # A change event (docs/drift-events.md): one type, sent by the EventBridge rule.
    assert drift["repository_dispatch"] == {"types": ["cleanrooms-membership-updated"]}


def test_applies_queue_in_order_in_their_own_group_and_drift_never_evicts_one() -> None:
    apply, drift = workflow("apply.yml")["concurrency"], workflow("drift.yml")["concurrency"]
    assert apply == {"group": "cleanrooms-apply", "cancel-in-progress": False, "queue": "max"}
    # Change events arriving together are each checked (none cancelled as a newer pending run's elder).
    assert drift == {"group": "cleanrooms-drift", "cancel-in-progress": False, "queue": "max"}


def test_the_harness_plays_githubs_concurrency_rules(tmp_path: Path) -> None:
    blocks = {
        "default.yml": "concurrency:\n  group: g\n",
        "queued.yml": "concurrency:\n  group: q\n  queue: max\n",
        "cancelling.yml": "concurrency:\n  group: c\n  cancel-in-progress: true\n",
        "free.yml": "on: push\n",
    }
    for name, text in blocks.items():
        (tmp_path / name).write_text(text)

    def burst(name: str) -> list[str]:
        arrivals = [Arrival(name, "push", {}, str(n)) for n in range(4)]
        return [a.sha for a in started(tmp_path, arrivals)]

    assert burst("default.yml") == ["0", "3"]  # one running, ONE pending: each newer pending run cancels the last
    assert burst("queued.yml") == ["0", "1", "2", "3"]
    assert burst("cancelling.yml") == ["3"]
    assert burst("free.yml") == ["0", "1", "2", "3"]


def test_a_cancelled_run_starts_no_job_that_writes_to_github() -> None:
    """A superseded or cancelled run must not publish its half-made reports over the newer run's: jobs that
    comment, report or open issues run on `!cancelled()`, never `always()`; only the aggregate check does."""
    assert {name: jobs_after_cancel(WORKFLOWS / name) for name in ["plan.yml", "apply.yml", "drift.yml"]} == {
        "plan.yml": ["result"],
        "apply.yml": [],
        "drift.yml": [],
    }
    assert workflow("plan.yml")["jobs"]["result"]["permissions"] == {}


def test_every_action_is_pinned_to_a_full_commit_sha_or_is_this_repositorys_own() -> None:
    uses = [
        (name, step["uses"])
        for name, flow in all_workflows().items()
        for job in flow["jobs"].values()
        for step in steps(job)
        if "uses" in step
    ]
    assert len(uses) > 10
    for name, action in uses:
        assert action == "./" or PINNED.match(action), f"{name}: {action}"
    assert sum(action == "./" for _, action in uses) >= 9  # plan, apply and drift run through action.yml


def test_artifacts_are_named_by_account_and_region_and_a_re_run_never_uploads_a_name_twice() -> None:
    uploads = {
        (name, step["with"]["name"]): step["with"].get("overwrite", False)
        for name, flow in all_workflows().items()
        for job in flow["jobs"].values()
        for step in steps(job)
        if "upload-artifact" in step.get("uses", "")
    }
    target, attempt = "${{ matrix.account }}-${{ matrix.region }}", "-attempt-${{ github.run_attempt }}"
    # A re-run's attempt shares the run's artifacts: a report is replaced (it is made again); a record of
    # writes (receipt, audit log) or what a failed apply left is kept per attempt, never replaced.
    assert uploads == {
        ("plan.yml", f"plan-{target}"): True,
        ("apply.yml", f"plan-{target}"): True,
        ("apply.yml", f"receipt-{target}{attempt}"): False,
        ("apply.yml", f"audit-{target}{attempt}"): False,
        ("apply.yml", f"remaining-{target}{attempt}"): False,
        ("drift.yml", f"drift-{target}"): True,
    }
    for path in WORKFLOWS.glob("*.yml"):
        assert "job-index" not in path.read_text(), path.name


def test_the_action_installs_only_hash_pinned_packages() -> None:
    action: dict[str, Any] = YAML(typ="safe").load((WORKFLOWS.parent.parent / "action.yml").read_text())
    steps = {step["name"]: step for step in action["runs"]["steps"]}
    install = steps["Install the reconciler (hash-pinned)"]["run"]
    assert '--python "$VENV/bin/python" install --quiet --disable-pip-version-check --no-deps)' in install
    assert '"${pip[@]}" --require-hashes -r "$ACTION_PATH/requirements/action.txt"' in install
    assert '"${pip[@]}" --no-build-isolation "$ACTION_PATH"' in install
    lock = (WORKFLOWS.parent.parent / "requirements" / "action.txt").read_text()
    pins = re.findall(r"^([a-z0-9-]+)==\S+ \\$", lock, re.MULTILINE)
    assert {"boto3", "pydantic", "pygithub", "flit-core"} <= set(pins)  # the build backend too
    assert lock.count("--hash=sha256:") >= len(pins)
    # CEL is the `policies` extra: its own hashed lock, installed only where reconciler.yaml has policies.
    assert "cel-expr-python" not in pins
    policies = (WORKFLOWS.parent.parent / "requirements" / "policies.txt").read_text()
    assert re.findall(r"^([a-z0-9-]+)==\S+ \\$", policies, re.MULTILINE) == ["cel-expr-python"]
    assert policies.count("--hash=sha256:") >= 1
    key = steps["Key the reconciler's environment"]["run"]
    assert 'grep -q -e policies -- "$config"; then cel=yes; fi' in key
    assert '"${pip[@]}" --require-hashes -r "$ACTION_PATH/requirements/policies.txt"' in install
    extra = tomllib.loads((WORKFLOWS.parent.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    wanted = (WORKFLOWS.parent.parent / "requirements" / "policies.in").read_text().split("\n")
    assert extra["policies"] == [line for line in wanted if line and not line.startswith("#")]


def test_the_install_is_cached_under_a_key_of_everything_it_is_made_of() -> None:
    # A restored environment must be the one an install would make: the key covers the locks (and CEL or
    # not), the action's source and the Python that runs it; a hit skips the install and the save.
    action: dict[str, Any] = YAML(typ="safe").load((WORKFLOWS.parent.parent / "action.yml").read_text())
    steps = {step["name"]: step for step in action["runs"]["steps"]}
    key = steps["Key the reconciler's environment"]["run"]
    for part in (
        "cat requirements/action.txt",
        '[ "$cel" = no ] || cat requirements/policies.txt',
        "find action.yml pyproject.toml reconciler -type f",
        "sys.version, sys.base_prefix, platform.machine()",
        'echo "key=cleanrooms-reconciler-$RUNNER_OS-$made_of"',
    ):
        assert part in key
    restore, save = steps["Restore the reconciler's environment"], steps["Save the reconciler's environment"]
    assert restore["uses"] == "actions/cache/restore@5a3ec84eff668545956fd18022155c47e93e2684"
    assert save["uses"] == "actions/cache/save@5a3ec84eff668545956fd18022155c47e93e2684"
    assert (
        restore["with"]
        == save["with"]
        == {
            "path": "${{ steps.venv.outputs.path }}",
            "key": "${{ steps.venv.outputs.key }}",
        }
    )
    skipped = "env.RECONCILER_INSTALLED != 'true' && steps.cache.outputs.cache-hit != 'true'"
    assert steps["Install the reconciler (hash-pinned)"]["if"] == save["if"] == skipped
    names = list(steps)
    assert names.index("Restore the reconciler's environment") < names.index("Install the reconciler (hash-pinned)")
    assert names.index("Install the reconciler (hash-pinned)") < names.index("Save the reconciler's environment")
    run = steps["reconciler ${{ inputs.command }}"]["run"]
    assert 'reconciler() { "$RECONCILER_PYTHON" -m reconciler "$@"; }' in run


def test_least_privilege_permissions() -> None:
    for name, flow in all_workflows().items():
        assert flow["permissions"] == {}, name
        for job_name, job in flow["jobs"].items():
            permissions = job["permissions"]
            checks_out = any("actions/checkout" in s.get("uses", "") for s in steps(job))
            if (name, job_name) == ("drift.yml", "adopt"):
                continue  # the one job that writes to git: below
            assert permissions.get("contents") == ("read" if checks_out else None), (name, job_name)
            configures_aws = any("configure-aws-credentials" in s.get("uses", "") for s in steps(job))
            assert (permissions.get("id-token") == "write") == configures_aws, (name, job_name)
            writes = {k for k, v in permissions.items() if v == "write"} - {"id-token"}
            assert writes <= {"pull-requests", "issues"}, (name, job_name)
    assert workflow("plan.yml")["jobs"]["comment"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    drift = workflow("drift.yml")["jobs"]
    assert drift["report"]["permissions"] == {"contents": "read", "issues": "write"}
    # Adoption commits to its own branch and opens its pull request: no AWS credentials, no issues.
    assert drift["adopt"]["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert not any("configure-aws-credentials" in s.get("uses", "") for s in steps(drift["adopt"]))
    assert "github.event_name != 'repository_dispatch'" in drift["adopt"]["if"]


def test_credentials_come_from_oidc_with_role_arns_from_repository_variables() -> None:
    for name, flow in all_workflows().items():
        text = (WORKFLOWS / name).read_text()
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text, name
        for job in flow["jobs"].values():
            for step in steps(job):
                if "configure-aws-credentials" in step.get("uses", ""):
                    assert step["with"]["role-to-assume"].startswith("${{ vars."), name


def test_apply_runs_the_reviewed_saved_plan_in_a_protected_environment_and_keeps_receipts() -> None:
    jobs = workflow("apply.yml")["jobs"]
    job = jobs["apply"]
    assert job["environment"] == "cleanrooms-production"
    assert "environment" not in jobs["plan"]  # approvers see the plan before they are asked
    # Only the targets the gate lets through (the reviewed plan, something to change) reach the environment.
    assert job["needs"] == ["review", "gate"] and jobs["gate"]["needs"] == ["review", "targets", "plan"]
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.gate.outputs.matrix) }}"
    assert "needs.gate.outputs.count != '0'" in job["if"]
    [gate] = [s for s in steps(jobs["gate"]) if s.get("uses") == "./"]
    assert gate["with"]["command"] == "apply-targets"
    [run] = [s for s in steps(job) if s.get("uses") == "./"]
    reviewed = "${{ fromJSON(needs.review.outputs.reviewed).approvals[matrix.target] }}"
    assert run["with"]["command"] == "apply" and run["with"]["expect-changes-hash"] == reviewed
    assert run["with"]["require-review"] == "true"
    assert run["with"]["plan-file"] == "plans/plan-${{ matrix.account }}-${{ matrix.region }}.json"
    [plan] = [s for s in steps(jobs["plan"]) if s.get("uses") == "./"]
    assert plan["with"]["expect-changes-hash"] == reviewed
    uploads = [s for s in steps(job) if "upload-artifact" in s.get("uses", "")]
    # A record of writes is uploaded whatever happened, a cancelled run's too.
    assert [upload["if"] for upload in uploads] == ["always()", "always()", "failure()"]
    reported = "${{ !cancelled() && needs.review.result == 'success' && needs.targets.result == 'success' }}"
    assert jobs["report"]["if"] == jobs["gate"]["if"] == reported


@pytest.mark.parametrize("name", ["plan.yml", "apply.yml", "drift.yml"])
def test_aws_jobs_fan_out_over_the_targets_matrix(name: str) -> None:
    jobs = workflow(name)["jobs"]
    assert "targets" in [(s.get("with") or {}).get("command") for s in steps(jobs["targets"])]
    fanned = [job for job in jobs.values() if "strategy" in job]
    assert len(fanned) == (2 if name == "apply.yml" else 1)  # apply: plan on main, then apply
    for job in fanned:
        # apply's matrix is the part of the targets matrix the gate lets through
        source = "gate" if job.get("environment") else "targets"
        assert job["strategy"]["matrix"] == f"${{{{ fromJSON(needs.{source}.outputs.matrix) }}}}"
        assert [s["with"]["target"] for s in steps(job) if s.get("uses") == "./"] == ["${{ matrix.target }}"]


def test_checkouts_do_not_persist_credentials() -> None:
    for name, flow in all_workflows().items():
        for job in flow["jobs"].values():
            for step in steps(job):
                if "actions/checkout" in step.get("uses", ""):
                    assert step["with"]["persist-credentials"] is False, name


def test_iam_policies_parse_and_the_read_only_one_cannot_write() -> None:
    import json

    iam = WORKFLOWS.parent.parent / "docs" / "iam"
    policies = {path.name: json.loads(path.read_text()) for path in iam.glob("*.json")}
    assert len(policies) == 5
    read_only = {a for s in policies["read-only.json"]["Statement"] for a in s["Action"]}
    reads = {
        "cleanrooms:GetMembership",
        "cleanrooms:ListMemberships",
        "cleanrooms:ListMembers",
        "cleanrooms:ListTagsForResource",  # only for files that manage tags
        "cleanrooms:ListCollaborations",  # only for files that name their collaboration, and pending invitations
        "cloudtrail:LookupEvents",  # drift's attribution: who wrote a drifted membership
    }
    assert read_only == reads | {"sts:AssumeRole"}  # the member accounts' read roles, by the template
    for name, role in [("read-only.json", "read"), ("apply.json", "apply")]:
        [assume] = [s for s in policies[name]["Statement"] if s["Action"] == ["sts:AssumeRole"]]
        assert assume["Resource"] == f"arn:aws:iam::*:role/cleanrooms-reconciler-{role}", name
    apply = {a for s in policies["apply.json"]["Statement"] for a in s["Action"]}
    writes = {"cleanrooms:UpdateMembership", "cleanrooms:TagResource", "cleanrooms:UntagResource"}
    writes |= {"cleanrooms:CreateMembership"}  # a join
    assert writes | reads | {"iam:PassRole", "logs:CreateLogDelivery"} <= apply
    trust = policies["github-oidc-trust.json"]["Statement"][0]["Condition"]["StringEquals"]
    assert trust["token.actions.githubusercontent.com:sub"].endswith(":environment:cleanrooms-production")
