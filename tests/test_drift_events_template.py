"""docs/eventbridge's CloudFormation template against the drift workflow it feeds: the rule matches Clean
Rooms' Membership Updated events, its body is the repository_dispatch drift.yml listens for, carrying the
membership where drift.yml reads it, in a form the CLI takes; the token comes from Secrets Manager; the role
can do one thing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from reconciler.sandbox import CleanRoomsSandbox

from .helpers import run_cli, write_desired

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "docs" / "eventbridge" / "membership-updated-dispatch.yaml"
DRIFT = ROOT / ".github" / "workflows" / "drift.yml"


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def transformed(transformer: dict[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge sends: each `<name>` of the template replaced by the value at its JSON path."""
    body = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        value: Any = event
        for step in re.findall(r"\.([A-Za-z-]+)|\[(\d+)\]", path.removeprefix("$")):
            value = value[step[0]] if step[0] else value[int(step[1])]
        body = body.replace(f"<{name}>", value)
    return json.loads(body)


def test_the_rule_sends_the_dispatch_drift_yml_listens_for_with_the_membership_where_it_reads_it(
    sandbox: CleanRoomsSandbox, tmp_path: Path
) -> None:
    resources = load(TEMPLATE)["Resources"]
    rule = resources["Rule"]["Properties"]
    assert rule["EventPattern"] == {"source": ["aws.cleanrooms"], "detail-type": ["Membership Updated"]}
    [target] = rule["Targets"]
    mid = sandbox.create_membership("acme", region="eu-west-1")
    arn = f"arn:aws:cleanrooms:eu-west-1:{sandbox.account_id}:membership/{mid}"
    event = {
        "version": "0",
        "source": "aws.cleanrooms",
        "detail-type": "Membership Updated",
        "account": sandbox.account_id,
        "region": "eu-west-1",
        "resources": [arn],
        "detail": {},
    }
    body = transformed(target["InputTransformer"], event)
    assert body == {
        "event_type": "cleanrooms-membership-updated",
        "client_payload": {"account": sandbox.account_id, "region": "eu-west-1", "membershipId": arn},
    }
    workflow = load(DRIFT)
    assert workflow["on"]["repository_dispatch"] == {"types": [body["event_type"]]}
    jobs = workflow["jobs"]
    for job in ("targets", "drift", "report"):
        [step] = [s for s in jobs[job]["steps"] if s.get("uses") == "./"]
        assert step["with"]["membership"] == "${{ github.event.client_payload.membershipId }}", job

    # The CLI takes the ARN the payload carries to the membership a file names.
    write_desired(tmp_path, "acme.yaml", mid, region="eu-west-1")
    matrix = run_cli(["targets", "--format", "github-matrix", "--membership", arn, str(tmp_path)])
    assert (matrix.code, matrix.stderr) == (0, "")
    assert json.loads(matrix.stdout)["include"] == [
        {"account": "default", "region": "eu-west-1", "target": "default/eu-west-1"}
    ]


def test_the_token_comes_from_secrets_manager_and_the_role_can_only_call_the_destination() -> None:
    template = load(TEMPLATE)
    assert not any("token" in name.lower() and "secret" not in name.lower() for name in template["Parameters"])
    connection = template["Resources"]["Connection"]["Properties"]
    key = connection["AuthParameters"]["ApiKeyAuthParameters"]
    assert key["ApiKeyName"] == "Authorization"
    assert key["ApiKeyValue"] == {"Fn::Sub": "Bearer {{resolve:secretsmanager:${TokenSecretName}:SecretString:token}}"}
    destination = template["Resources"]["Destination"]["Properties"]
    assert destination["HttpMethod"] == "POST"
    assert destination["InvocationEndpoint"] == {"Fn::Sub": "${GitHubApiUrl}/repos/${Repository}/dispatches"}
    [policy] = template["Resources"]["InvokeRole"]["Properties"]["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "events:InvokeApiDestination", "Resource": {"Fn::GetAtt": ["Destination", "Arn"]}}
    ]
    trust = template["Resources"]["InvokeRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "events.amazonaws.com"}]
