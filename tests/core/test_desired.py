"""Desired-state loading and `reconciler validate`: every bad-input class names the file, line and field."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.core.desired import load
from reconciler.core.documents import MAX_FILE_BYTES

from ..helpers import run_cli, run_process

REPO = Path(__file__).resolve().parent.parent.parent
MID = "3f1c2a9e-7b4d-4c1e-9a8f-2b6d5e4c3a21"
ROLE = "arn:aws:iam::111122223333:role/CleanRoomsQueryResults"


def write(directory: Path, name: str, text: str | bytes) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def validate(path: Path) -> tuple[int, str]:
    result = run_cli(["validate", str(path)])
    return result.code, result.stdout + result.stderr


def test_repository_examples_are_valid_in_a_real_process() -> None:
    result = run_process(["validate", "desired-state"], cwd=REPO)
    assert result.code == 0, result.stdout + result.stderr
    assert "3 membership file(s) valid in desired-state" in result.stdout


def test_valid_file_loads_with_only_the_keys_it_manages(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", f"membershipIdentifier: {MID}\nqueryLogStatus: ENABLED\n")
    result = load(tmp_path)
    assert result.problems == []
    [loaded] = result.files
    assert loaded.path == str(tmp_path / "a.yaml")
    assert loaded.membership.managed() == {"queryLogStatus": "ENABLED"}
    assert len(loaded.sha256) == 64


# (file text, expected line, expected field, expected words in the message)
BAD_INPUTS = {
    "yaml-syntax": (f"membershipIdentifier: {MID}\nqueryLogStatus: [ENABLED\n", 3, "", "expected"),
    "duplicate-key": (
        f"membershipIdentifier: {MID}\nqueryLogStatus: ENABLED\nqueryLogStatus: DISABLED\n",
        3,
        "",
        'duplicate key "queryLogStatus"',
    ),
    "top-level-list": ("- queryLogStatus: ENABLED\n", 1, "", "top level must be a mapping"),
    "top-level-scalar": ("just a string\n", 1, "", "top level must be a mapping"),
    "empty-file": ("# nothing here\n", 1, "", "not empty"),
    "unknown-key": (
        f"membershipIdentifier: {MID}\nqueryLogging: ENABLED\n",
        2,
        "queryLogging",
        "unknown key",
    ),
    "nested-unknown-key": (
        f"membershipIdentifier: {MID}\ndefaultJobResultConfiguration:\n  roleArn: {ROLE}\n"
        "  outputConfiguration:\n    s3:\n      bucket: good-bucket\n      format: CSV\n",
        7,
        "defaultJobResultConfiguration.outputConfiguration.s3.format",
        "allowed here: resultFormat, bucket, keyPrefix",
    ),
    "missing-identifier": ("queryLogStatus: ENABLED\n", 1, "membershipIdentifier", "required key is missing"),
    "bad-identifier": ("membershipIdentifier: not-a-uuid\n", 1, "membershipIdentifier", "lower-case UUID"),
    "enum": (
        f"membershipIdentifier: {MID}\njobLogStatus: ON\n",
        2,
        "jobLogStatus",
        "'ENABLED' or 'DISABLED'",
    ),
    "wrong-type": (
        f"membershipIdentifier: {MID}\ndefaultResultConfiguration:\n  outputConfiguration:\n    s3:\n"
        "      resultFormat: CSV\n      bucket: good-bucket\n      singleFileOutput: 'no'\n",
        7,
        "defaultResultConfiguration.outputConfiguration.s3.singleFileOutput",
        "valid boolean",
    ),
    "result-format": (
        f"membershipIdentifier: {MID}\ndefaultResultConfiguration:\n  outputConfiguration:\n    s3:\n"
        "      resultFormat: XML\n      bucket: good-bucket\n",
        5,
        "defaultResultConfiguration.outputConfiguration.s3.resultFormat",
        "'CSV' or 'PARQUET'",
    ),
    "bucket-pattern": (
        f"membershipIdentifier: {MID}\ndefaultJobResultConfiguration:\n  roleArn: {ROLE}\n"
        "  outputConfiguration:\n    s3:\n      bucket: Bad_Bucket\n",
        6,
        "defaultJobResultConfiguration.outputConfiguration.s3.bucket",
        "S3 bucket name",
    ),
    "bucket-ip": (
        f"membershipIdentifier: {MID}\ndefaultJobResultConfiguration:\n  roleArn: {ROLE}\n"
        "  outputConfiguration:\n    s3:\n      bucket: 10.0.0.1\n",
        6,
        "defaultJobResultConfiguration.outputConfiguration.s3.bucket",
        "IP address",
    ),
    "bucket-too-long": (
        f"membershipIdentifier: {MID}\ndefaultJobResultConfiguration:\n  roleArn: {ROLE}\n"
        f"  outputConfiguration:\n    s3:\n      bucket: {'b' * 64}\n",
        6,
        "defaultJobResultConfiguration.outputConfiguration.s3.bucket",
        "3-63",
    ),
    "key-prefix-pattern": (
        f"membershipIdentifier: {MID}\ndefaultJobResultConfiguration:\n  roleArn: {ROLE}\n"
        "  outputConfiguration:\n    s3:\n      bucket: good-bucket\n      keyPrefix: 'a b'\n",
        7,
        "defaultJobResultConfiguration.outputConfiguration.s3.keyPrefix",
        "at most 512",
    ),
    "key-prefix-too-long": (
        f"membershipIdentifier: {MID}\ndefaultJobResultConfiguration:\n  roleArn: {ROLE}\n"
        f"  outputConfiguration:\n    s3:\n      bucket: good-bucket\n      keyPrefix: {'k' * 513}\n",
        7,
        "defaultJobResultConfiguration.outputConfiguration.s3.keyPrefix",
        "at most 512",
    ),
    "role-arn": (
        f"membershipIdentifier: {MID}\ndefaultJobResultConfiguration:\n  roleArn: arn:aws:iam::1:user/x\n"
        "  outputConfiguration:\n    s3:\n      bucket: good-bucket\n",
        3,
        "defaultJobResultConfiguration.roleArn",
        "IAM role ARN",
    ),
    "job-role-required": (
        f"membershipIdentifier: {MID}\ndefaultJobResultConfiguration:\n"
        "  outputConfiguration:\n    s3:\n      bucket: good-bucket\n",
        2,
        "defaultJobResultConfiguration.roleArn",
        "required key is missing",
    ),
    "union-empty": (
        f"membershipIdentifier: {MID}\ndefaultJobResultConfiguration:\n  roleArn: {ROLE}\n"
        "  outputConfiguration: {}\n",
        4,
        "defaultJobResultConfiguration.outputConfiguration.s3",
        "required key is missing",
    ),
    "union-two-members": (
        f"membershipIdentifier: {MID}\ndefaultJobResultConfiguration:\n  roleArn: {ROLE}\n"
        "  outputConfiguration:\n    s3: {bucket: good-bucket}\n    glue: {}\n",
        6,
        "defaultJobResultConfiguration.outputConfiguration.glue",
        "unknown key",
    ),
    "account-unquoted": (f"membershipIdentifier: {MID}\naccountId: 111122223333\n", 2, "accountId", "quoted"),
    "account-short": (f"membershipIdentifier: {MID}\naccountId: '1234'\n", 2, "accountId", "12-digit"),
    "region": (f"membershipIdentifier: {MID}\nregion: Mars\n", 2, "region", "region name"),
    "null-setting": (f"membershipIdentifier: {MID}\nqueryLogStatus: null\n", 2, "queryLogStatus", "null"),
    "null-result-configuration": (
        f"membershipIdentifier: {MID}\ndefaultResultConfiguration: null\n",
        2,
        "defaultResultConfiguration",
        "cannot remove a result configuration",
    ),
    "null-job-result-configuration": (
        f"membershipIdentifier: {MID}\ndefaultJobResultConfiguration: ~\n",
        2,
        "defaultJobResultConfiguration",
        "re-joining the collaboration",
    ),
    "multi-document": (f"membershipIdentifier: {MID}\n---\nqueryLogStatus: ENABLED\n", 2, "", "document"),
    "merge-key": (f"membershipIdentifier: {MID}\n<<: {{queryLogStatus: on}}\n", 2, "", "merge keys (<<) are not"),
    "merge-key-of-valid-settings": (
        f"membershipIdentifier: {MID}\nbase: &b {{queryLogStatus: ENABLED}}\n<<: *b\n",
        3,
        "",
        "merge keys (<<) are not supported",
    ),
    "tagged-string-next-to-an-error": (
        f"membershipIdentifier: {MID}\nqueryLogStatus: !!str ENABLED\njobLogStatus: on\n",
        3,
        "jobLogStatus",
        "got 'on'",
    ),
    "number-key": (f"membershipIdentifier: {MID}\n12: x\n", 2, "12", "unknown key"),
    "null-key": (f"membershipIdentifier: {MID}\nnull: y\n", 2, "null", "unknown key"),
    "top-level-list-is-named": ("- a\n- b\n", 1, "", "not a list"),
    "key-with-a-trailing-space": (
        f'membershipIdentifier: {MID}\n"queryLogStatus ": ENABLED\n',
        2,
        "'queryLogStatus '",
        "unknown",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_reported_with_file_line_and_field(tmp_path: Path, case: str) -> None:
    text, line, field, words = BAD_INPUTS[case]
    path = write(tmp_path, f"{case}.yaml", text)
    code, output = validate(path)
    assert code == 1
    assert "TaggedScalar" not in output and "Commented" not in output and "bug" not in output, output
    first = output.splitlines()[0]
    assert first.startswith(f"{path}:{line}:"), first
    if field:
        assert f": {field}: " in first, first
    assert words in first, first


def test_empty_file_message_names_what_was_found(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.yaml", "")
    code, output = validate(path)
    assert code == 1
    assert f"{path}:1:1: the top level must be a mapping of settings, not empty" in output


def test_all_problems_in_all_files_are_reported_together(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", f"membershipIdentifier: {MID}\nqueryLogStatus: on\njobLogStatus: off\n")
    write(tmp_path, "nested/b.yml", "membershipIdentifier: nope\nextra: 1\n")
    write(tmp_path, "ignored.txt", "not yaml at all: [")
    code, output = validate(tmp_path)
    lines = output.splitlines()
    assert code == 1
    assert [line.split(":")[1:3] for line in lines[:4]] == [["2", "17"], ["3", "15"], ["1", "23"], ["2", "1"]]
    assert lines[0].startswith(str(tmp_path / "a.yaml"))
    assert lines[2].startswith(str(tmp_path / "nested" / "b.yml"))
    assert "4 problem(s)" in output


def test_same_membership_in_two_files_names_both(tmp_path: Path) -> None:
    first = write(tmp_path, "one.yaml", f"# first\nmembershipIdentifier: {MID}\n")
    second = write(tmp_path, "two.yaml", f"queryLogStatus: ENABLED\nmembershipIdentifier: {MID}\n")
    code, output = validate(tmp_path)
    assert code == 1
    assert f"{first}:2:1: membershipIdentifier: membership {MID} is also declared in {second}:2" in output
    assert f"{second}:2:1: membershipIdentifier: membership {MID} is also declared in {first}:2" in output


def test_same_collaboration_in_one_account_in_two_files_names_both(tmp_path: Path) -> None:
    collaboration = "0b7e4c1a-1111-4222-8333-444455556666"
    first = write(tmp_path, "one.yaml", f'accountId: "111122223333"\ncollaborationIdentifier: {collaboration}\n')
    second = write(tmp_path, "two.yaml", f'collaborationIdentifier: {collaboration}\naccountId: "111122223333"\n')
    # The credentials' account may be another: if it is the same, the plan finds it (one membership, two files).
    elsewhere = write(tmp_path, "three.yaml", f"collaborationIdentifier: {collaboration}\n")
    code, output = validate(tmp_path)
    assert code == 1
    named = f"the membership in collaboration {collaboration} (account 111122223333)"
    assert f"{first}:2:1: collaborationIdentifier: {named} is also declared in {second}:1" in output
    assert f"{second}:1:1: collaborationIdentifier: {named} is also declared in {first}:2" in output
    assert str(elsewhere) not in output


def test_billion_laughs_fails_fast_without_expanding(tmp_path: Path) -> None:
    levels = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = write(tmp_path, "laughs.yaml", f"membershipIdentifier: {MID}\n" + "\n".join(levels) + "\n")
    started = time.perf_counter()
    code, output = validate(path)
    elapsed = time.perf_counter() - started
    assert code == 1
    assert f"{path}:1:1: YAML aliases expand past 10000 nodes" in output
    # 10**10 nodes if expanded: failing at all within a second proves nothing was expanded.
    assert elapsed < 1.0


def test_bounded_aliases_are_allowed(tmp_path: Path) -> None:
    text = (
        f"membershipIdentifier: {MID}\n"
        "defaultJobResultConfiguration:\n  roleArn: " + ROLE + "\n  outputConfiguration:\n"
        "    s3: &out {bucket: good-bucket, keyPrefix: jobs/}\n"
    )
    path = write(tmp_path, "alias.yaml", text)
    assert validate(path)[0] == 0


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, "big.yaml", f"membershipIdentifier: {MID}\n" + "#" * MAX_FILE_BYTES + "\n")
    code, output = validate(path)
    assert code == 1
    assert f"{path}:1:1: file is {path.stat().st_size} bytes; the limit is {MAX_FILE_BYTES}" in output


def test_non_utf8_names_the_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "latin1.yaml",
        f"membershipIdentifier: {MID}\ncollaborationName: caf\xe9\n".encode("latin-1"),
    )
    code, output = validate(path)
    assert code == 1
    assert f"{path}:2:23: not valid UTF-8 (byte 0xe9)" in output


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    code, output = validate(tmp_path / "nope")
    assert code == 1
    assert "no such file or directory" in output


def test_validate_needs_no_credentials_or_network(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", f"membershipIdentifier: {MID}\n")
    # An endpoint nobody listens on: any AWS call would fail the command.
    result = run_cli(["validate", str(tmp_path)], env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert result.code == 0
    assert "1 membership file(s) valid" in result.stdout


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_the_fast_parser_accepts_nothing_the_located_one_refuses(case: str) -> None:
    from reconciler.core.desired import _Loaders

    assert _Loaders().quick(BAD_INPUTS[case][0], None) is None


def test_the_fast_and_located_parsers_agree_on_valid_files(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    from reconciler.core.desired import _Loaders
    from reconciler.core.models import DesiredMembership

    for example in sorted((REPO / "desired-state").rglob("*.yaml")):
        text = example.read_text()
        located = DesiredMembership.model_validate(YAML(typ="rt").load(text))
        quick = _Loaders().quick(text, None)
        assert quick is not None and quick[0] == located


@pytest.mark.parametrize("bucket", ["my-.bucket", "my.-bucket", "a.-b.c"])
def test_every_dot_separated_bucket_label_starts_and_ends_with_a_letter_or_digit(tmp_path: Path, bucket: str) -> None:
    path = write(
        tmp_path,
        "a.yaml",
        f"membershipIdentifier: {MID}\n"
        "defaultResultConfiguration:\n  outputConfiguration:\n    s3:\n"
        f"      resultFormat: CSV\n      bucket: {bucket}\n",
    )
    code, output = validate(tmp_path)
    assert code == 1
    assert (
        f"{path}:6:15: defaultResultConfiguration.outputConfiguration.s3.bucket: "
        "each dot-separated part of an S3 bucket name must start and end with a letter or digit" in output
    )


def test_files_the_loader_would_skip_are_reported_not_dropped(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", f"membershipIdentifier: {MID}\n")
    write(tmp_path, "upper.YAML", "membershipIdentifier: 00000000-0000-4000-8000-000000000001\n")
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (tmp_path / "loop.yml").symlink_to(tmp_path / "loop.yml")
    outside = write(tmp_path.parent / f"{tmp_path.name}-outside", "x.yaml", f"membershipIdentifier: {MID}\n")
    (tmp_path / "escape.yaml").symlink_to(outside)
    result = load(tmp_path)
    assert [f.path for f in result.files] == [f"{tmp_path}/good.yaml"]
    assert [(p.path.removeprefix(f"{tmp_path}/"), p.message) for p in result.problems] == [
        ("dangling.yaml", "a symbolic link that leads nowhere (to a missing file); nothing was loaded from it"),
        ("escape.yaml", f"a symbolic link that leads outside {tmp_path} (to {outside}); refused"),
        ("loop.yml", "a symbolic link loop; nothing was loaded from it"),
        ("upper.YAML", "the extension must be lower-case .yaml or .yml: rename the file (it was not loaded)"),
    ]


def test_a_directory_with_no_membership_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not a membership\n")
    code, output = validate(tmp_path)
    assert code == 1
    assert f"error: no membership files (*.yaml, *.yml) under {tmp_path}" in output
