"""reconciler.yaml on its own: the documented example and its five policies, glob specificity, rules that
fail closed, and the committed schema. No endpoint: loading and validating make no AWS call."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.config import config_json_schema, load_config, specificity
from reconciler.core.desired import Layers, load

from ..helpers import run_cli, write_desired

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLE = REPO / "docs" / "reconciler.example.yaml"
MID = "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21"
OURS = "111122223333"


def problems_with_example(directory: Path) -> list[str]:
    guardrails, problems = load_config(EXAMPLE)
    assert problems == [] and guardrails is not None
    return [str(p) for p in load(directory, guardrails).problems]


def test_the_documented_example_flags_only_the_file_that_names_no_account(tmp_path: Path) -> None:
    shutil.copytree(REPO / "desired-state", tmp_path / "desired-state")
    assert problems_with_example(tmp_path / "desired-state") == [
        f"{tmp_path}/desired-state/partners/initech-provider.yaml:1:1: policy names-its-account: "
        'state the account: accountId: "111122223333"'
    ]


RESULTS = {"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "acme-results"}}}
JOBS = {"roleArn": f"arn:aws:iam::{OURS}:role/Jobs", "outputConfiguration": {"s3": {"bucket": "acme-jobs"}}}


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"queryLogStatus": "DISABLED"}, "policy query-logging-on: query logging must stay on"),
        (
            {"defaultResultConfiguration": {"outputConfiguration": {"s3": {"resultFormat": "CSV", "bucket": "x-y"}}}},
            "policy results-in-our-buckets: query and job results may only go to our own buckets",
        ),
        (
            {
                "jobLogStatus": "ENABLED",
                "defaultJobResultConfiguration": JOBS | {"roleArn": "arn:aws:iam::444455556666:role/Jobs"},
            },
            "policy result-roles-in-own-account: result roles must be in the membership's own account",
        ),
        (
            {"jobLogStatus": "DISABLED", "defaultJobResultConfiguration": JOBS},
            "policy job-logging-where-jobs-run: a membership that runs jobs must keep job logging on",
        ),
        ({"defaultResultConfiguration": RESULTS}, None),
    ],
    ids=["query-logging", "foreign-bucket", "foreign-role", "jobs-without-logs", "compliant"],
)
def test_each_documented_policy_catches_what_it_names(
    tmp_path: Path, settings: dict[str, object], expected: str | None
) -> None:
    write_desired(tmp_path, "a.yaml", MID, accountId=OURS, **settings)
    found = [line.split(": ", 1)[1] for line in problems_with_example(tmp_path)]
    if expected is None:
        assert found == []
    else:
        assert [f[: len(expected)] for f in found] == [expected]


def test_a_violation_points_at_the_key_the_rule_reads_even_through_optional_syntax(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        f'membershipIdentifier: {MID}\naccountId: "{OURS}"\ndefaultJobResultConfiguration:\n'
        "  roleArn: arn:aws:iam::444455556666:role/Jobs\n"
        "  outputConfiguration: {s3: {bucket: acme-jobs}}\n"
        "jobLogStatus: ENABLED\n"
    )
    [problem] = problems_with_example(tmp_path)
    assert problem.startswith(f"{path}:4:3: policy result-roles-in-own-account:")


def test_more_literal_segments_then_more_literal_characters_is_more_specific() -> None:
    ordered = ["**", "*/*.yaml", "partners/**", "partners/*.yaml", "partners/acme/*.yaml", "partners/acme/a.yaml"]
    assert sorted(reversed(ordered), key=specificity) == ordered


def test_a_rule_that_cannot_be_evaluated_fails_closed_and_one_that_gives_no_bool_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "reconciler.yaml"
    config.write_text(
        "policies:\n"
        "  - name: unguarded\n    rule: membership.defaultResultConfiguration.roleArn.startsWith('arn')\n"
        "  - name: dyn-not-bool\n    rule: membership.queryLogStatus\n"
    )
    guardrails, problems = load_config(config)
    assert problems == [] and guardrails is not None  # both type-check: membership's values are dyn
    write_desired(tmp_path / "ds", "a.yaml", MID, queryLogStatus="ENABLED")
    assert [str(p).split("a.yaml:", 1)[1] for p in load(tmp_path / "ds", guardrails).problems] == [
        "1:1: policy unguarded: the rule could not be evaluated: Key not found in map : "
        '"defaultResultConfiguration" (guard optional keys with has())',
        "2:1: policy dyn-not-bool: the rule gave 'ENABLED' (STRING), not true or false",
    ]


def test_policies_without_cel_installed_stop_everything_and_say_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CEL is the `policies` extra: a config without policies never needs it, one with them refuses to run
    # without it (a None in sys.modules is how Python spells "not installed" to an import).
    monkeypatch.setitem(sys.modules, "cel_expr_python", None)
    config = tmp_path / "reconciler.yaml"
    config.write_text('accounts: ["111122223333"]\n')
    assert load_config(config)[1] == []
    config.write_text("accounts: []\npolicies:\n  - name: on\n    rule: \"membership.queryLogStatus == 'ENABLED'\"\n")
    guardrails, problems = load_config(config)
    assert guardrails is None
    assert [str(p) for p in problems] == [
        f"{config}:2:1: policies: CEL, which policies need, is not installed: "
        "pip install 'cleanrooms-reconciler[policies]'"
    ]
    write_desired(tmp_path / "ds", "a.yaml", MID, queryLogStatus="ENABLED")
    result = run_cli(["--config", str(config), "validate", str(tmp_path / "ds")])
    assert result.code == 1 and "pip install 'cleanrooms-reconciler[policies]'" in result.stderr + result.stdout


def test_an_empty_config_enforces_nothing(tmp_path: Path) -> None:
    config = tmp_path / "reconciler.yaml"
    config.write_text("# nothing yet\n")
    guardrails, problems = load_config(config)
    assert problems == [] and guardrails is not None
    assert (guardrails.accounts, guardrails.policies, guardrails.defaults) == (None, (), ())


def test_committed_config_schema_matches_the_model_and_the_command() -> None:
    committed = json.loads((REPO / "schema" / "reconciler.schema.json").read_text())
    assert committed == config_json_schema(), "run `make schema` and commit the result"
    printed = run_cli(["schema", "--config"])
    assert printed.code == 0 and json.loads(printed.stdout) == committed
    assert committed["additionalProperties"] is False
    assert set(committed["properties"]) == {"accounts", "policies", "defaults", "maxChangesPercent", "drift"}


# Leaves a file or a defaults entry may set: two top-level ones and three inside one nested field.
LEAVES = [
    ("queryLogStatus",),
    ("jobLogStatus",),
    ("membershipPaymentConfiguration", "queryCompute", "isResponsible"),
    ("membershipPaymentConfiguration", "jobCompute", "isResponsible"),
    ("membershipPaymentConfiguration", "machineLearning", "modelTraining", "isResponsible"),
]


def _settings(leaves: dict[tuple[str, ...], object]) -> dict[str, object]:
    nested: dict[str, object] = {}
    for path, value in leaves.items():
        node = nested
        for part in path[:-1]:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[path[-1]] = value
    return nested


def _leaf_values(draw: st.DrawFn, index: int) -> dict[tuple[str, ...], object]:
    chosen = draw(st.lists(st.sampled_from(LEAVES), unique=True))
    return {p: (f"V{index}" if len(p) == 1 else bool(index % 2)) for p in chosen}


@st.composite
def layered(draw: st.DrawFn) -> tuple[list[dict[tuple[str, ...], object]], dict[tuple[str, ...], object]]:
    entries = [_leaf_values(draw, i) for i in range(draw(st.integers(0, 3)))]
    return entries, _leaf_values(draw, 9)


@given(layered())
def test_the_file_wins_then_the_more_specific_default_and_origins_name_who_set_each_field(
    case: tuple[list[dict[tuple[str, ...], object]], dict[tuple[str, ...], object]],
) -> None:
    entries, own = case
    layers = Layers([(f"defaults[{i}] (g{i})", _settings(e)) for i, e in enumerate(entries)], [])
    effective = layers.under(_settings(own))
    fields = {path[0] for e in [*entries, own] for path in e}
    origins = layers.origins(_settings(own), fields)
    for path in LEAVES:
        setters = [i for i, e in enumerate(entries) if path in e]
        value: object = effective
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if path in own:
            assert value == own[path]
        elif setters:
            assert value == entries[setters[-1]][path]  # the last (most specific) entry that sets it
        else:
            assert value is None
    for name in fields:
        who = ["file"] if any(p[0] == name for p in own) else []
        for i, entry in enumerate(entries):
            # An entry counts where it set a leaf that neither the file nor a more specific entry overrode.
            later = [*entries[i + 1 :], own]
            if any(p[0] == name and not any(p in other for other in later) for p in entry):
                who.append(f"defaults[{i}] (g{i})")
        # The file first, then the entries from least to most specific: the same text in every run.
        assert origins.get(name, "file") == (" + ".join(who) or "file")
