"""The committed JSON Schema is the model's, and the examples point editors at it."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.core.desired import discover
from reconciler.core.models import desired_json_schema

from ..helpers import run_cli

REPO = Path(__file__).resolve().parent.parent.parent
SCHEMA = REPO / "schema" / "membership.schema.json"


def test_committed_schema_matches_the_model() -> None:
    assert json.loads(SCHEMA.read_text()) == desired_json_schema(), "run `make schema` and commit the result"


def test_schema_command_prints_the_schema() -> None:
    result = run_cli(["schema"])
    assert result.code == 0
    printed = json.loads(result.stdout)
    assert printed == desired_json_schema()
    assert "required" not in printed  # one of the two names, said by anyOf
    assert printed["anyOf"] == [{"required": ["membershipIdentifier"]}, {"required": ["collaborationIdentifier"]}]
    assert printed["additionalProperties"] is False


def test_schema_states_the_constraints_and_allows_no_null() -> None:
    schema = desired_json_schema()
    s3 = schema["$defs"]["QueryS3Output"]["properties"]
    assert s3["resultFormat"] == {"enum": ["CSV", "PARQUET"], "title": "Resultformat", "type": "string"}
    assert (s3["bucket"]["minLength"], s3["bucket"]["maxLength"]) == (3, 63)
    assert schema["$defs"]["DefaultJobResultConfiguration"]["required"] == ["outputConfiguration", "roleArn"]
    assert "null" not in json.dumps(schema)


def test_every_example_references_the_schema_by_a_working_relative_path() -> None:
    examples, _ = discover(REPO / "desired-state")
    assert len(examples) >= 2
    for example in examples:
        first = example.read_text().splitlines()[0]
        prefix = "# yaml-language-server: $schema="
        assert first.startswith(prefix), example
        assert (example.parent / first.removeprefix(prefix)).resolve() == SCHEMA
