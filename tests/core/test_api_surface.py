"""A guard against API drift: the installed botocore's Clean Rooms model, walked to every leaf, against ours.

Every settable leaf of the UpdateMembership request must be in the desired-state model with the same type,
enum, length bounds, pattern and required-ness, and every membership field GetMembership returns must be
either managed or read-only for a stated reason. When a newer botocore adds a field or changes a
constraint, this test fails naming it: add it to models.py (and the planner, the sandbox, the README), or
to one of the tables below with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore
import botocore.session
from botocore.model import Shape, StructureShape

from reconciler.core.models import CHECKED_AGAINST_BOTOCORE, LIVE_NAMES, SETTABLE_FIELDS, desired_json_schema

# Leaves where our constraint differs from botocore's on purpose, and why.
DELIBERATELY_DIFFERENT = {
    "defaultResultConfiguration.outputConfiguration.s3": (
        "required: the output configuration is a union with one member; s3 is its only member today"
    ),
    "defaultJobResultConfiguration.outputConfiguration.s3": (
        "required: the output configuration is a union with one member; s3 is its only member today"
    ),
    "defaultResultConfiguration.outputConfiguration.s3.bucket": (
        "pattern: botocore's pattern relies on lookarounds; ours is plain and validators add the S3 rules "
        "it encodes (no IP address, no adjacent dots, labels start and end alphanumeric)"
    ),
    "defaultJobResultConfiguration.outputConfiguration.s3.bucket": (
        "pattern: botocore's pattern relies on lookarounds; ours is plain and validators add the S3 rules "
        "it encodes (no IP address, no adjacent dots, labels start and end alphanumeric)"
    ),
}
# UpdateMembership leaves the desired state does not manage, and why (none today: keep it that way).
NOT_MANAGED: dict[str, str] = {}
# Keys of a desired-state file that are ours, not the request's.
OURS = {
    "region": "where the membership is; the endpoint, not a request field",
    "accountId": "a guard: must equal the account of the live membership's ARN",
    "collaborationName": "a guard: must equal the live membership's collaboration",
    "tags": "sent by TagResource / UntagResource, not UpdateMembership: checked against their TagMap below",
    "collaborationIdentifier": "names the membership by its collaboration; CreateMembership's (checked below)",
    "isMetricsEnabled": "CreateMembership's only (checked below); on an existing membership a plan-time check",
}
# GetMembership fields that UpdateMembership cannot change, and what the reconciler does with them.
READ_ONLY = {
    "id": "the membershipIdentifier",
    "arn": "holds the account, which the accountId guard checks",
    "collaborationArn": "identity, not a setting",
    "collaborationId": "used to read who pays (ListMembers) when payment is managed",
    "collaborationCreatorAccountId": "identity, not a setting",
    "collaborationCreatorDisplayName": "identity, not a setting",
    "collaborationName": "checked by the collaborationName guard",
    "createTime": "not a setting",
    "updateTime": "not a setting",
    "status": "checked at plan time: only ACTIVE memberships are planned",
    "memberAbilities": "checked at plan time: the query result configuration needs CAN_RECEIVE_RESULTS",
    "mlMemberAbilities": "set when the member is invited; not part of UpdateMembership",
    "isMetricsEnabled": "set at CreateMembership (a join); checked, never updated, on an existing membership",
}

_TYPES = {"string": "string", "boolean": "boolean", "structure": "object", "integer": "integer", "list": "array"}


def _model() -> Any:
    return botocore.session.get_session().get_service_model("cleanrooms")


def botocore_leaves(shape: Shape, path: str = "", required: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, constraints) for every member under `shape`, structures included."""
    if path:
        yield (
            path,
            {
                "type": _TYPES.get(shape.type_name, shape.type_name),
                "enum": sorted(getattr(shape, "enum", None) or []) or None,
                "min": shape.metadata.get("min") or None,
                "max": shape.metadata.get("max"),
                "pattern": java_classes(shape.metadata.get("pattern")),
                "required": required,
            },
        )
    if isinstance(shape, StructureShape):
        for name, member in shape.members.items():
            yield from botocore_leaves(member, f"{path}.{name}" if path else name, name in shape.required_members)


def our_leaves(
    schema: dict[str, Any], defs: dict[str, Any], path: str = "", required: bool = False
) -> Iterator[tuple[str, dict[str, Any]]]:
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    if path:
        pattern = schema.get("pattern")
        yield (
            path,
            {
                "type": schema.get("type"),
                "enum": sorted(schema["enum"]) if "enum" in schema else None,
                "min": schema.get("minLength") or None,
                "max": schema.get("maxLength"),
                # Ours are anchored (a full match); botocore's are written without anchors.
                "pattern": pattern.removeprefix("^").removesuffix("$") if pattern else None,
                "required": required,
            },
        )
    for name, member in schema.get("properties", {}).items():
        yield from our_leaves(member, defs, f"{path}.{name}" if path else name, name in schema.get("required", ()))


def java_classes(pattern: str | None) -> str | None:
    """botocore's pattern as the service reads it: Java's \\w and \\d are ASCII, which ours spell out (Rust's
    regex, under pydantic, would read them as Unicode)."""
    if pattern is None:
        return None
    return pattern.replace("\\w", "A-Za-z0-9_").replace("\\d", "[0-9]")


def test_every_settable_leaf_of_update_membership_is_ours_with_the_same_constraints() -> None:
    theirs = dict(botocore_leaves(_model().operation_model("UpdateMembership").input_shape))
    schema = desired_json_schema()
    ours = dict(our_leaves(schema, schema["$defs"]))
    problems = []
    for path, constraints in theirs.items():
        if path in NOT_MANAGED or any(path.startswith(f"{unmanaged}.") for unmanaged in NOT_MANAGED):
            continue
        if path not in ours:
            problems.append(f"UpdateMembership has {path} ({constraints}), which the desired state cannot manage")
            continue
        differs = {k: (v, ours[path][k]) for k, v in constraints.items() if ours[path][k] != v}
        if path == "membershipIdentifier":
            # Required of the request; a file names it, or its collaboration (the schema's anyOf).
            differs.pop("required", None)
            assert {"required": ["membershipIdentifier"]} in desired_json_schema()["anyOf"]
        if differs and path not in DELIBERATELY_DIFFERENT:
            problems.append(f"{path}: botocore says / we say {differs}")
    for path in ours.keys() - theirs.keys():
        if path.split(".", 1)[0] not in OURS:
            problems.append(f"the desired state has {path}, which UpdateMembership does not")
    assert problems == [], (
        f"botocore {botocore.__version__} (models checked against {CHECKED_AGAINST_BOTOCORE}):\n" + "\n".join(problems)
    )


def test_every_membership_field_of_get_membership_is_managed_or_read_only_for_a_reason() -> None:
    membership = _model().operation_model("GetMembership").output_shape.members["membership"]
    managed = {LIVE_NAMES.get(name, name) for name in SETTABLE_FIELDS}
    unexplained = sorted(set(membership.members) - managed - set(READ_ONLY))
    assert unexplained == [], f"GetMembership returns fields nobody decided about: {unexplained}"
    assert set(READ_ONLY) <= set(membership.members), "READ_ONLY names fields GetMembership no longer has"


def test_the_tables_name_real_leaves() -> None:
    theirs = dict(botocore_leaves(_model().operation_model("UpdateMembership").input_shape))
    assert set(DELIBERATELY_DIFFERENT) <= set(theirs)
    assert set(NOT_MANAGED) <= set(theirs)


def test_tags_have_the_constraints_of_the_tag_operations_and_of_create_membership() -> None:
    model = _model()
    tag_map = model.operation_model("TagResource").input_shape.members["tags"]
    assert model.operation_model("CreateMembership").input_shape.members["tags"].name == tag_map.name
    assert model.operation_model("ListTagsForResource").output_shape.members["tags"].name == tag_map.name
    assert model.operation_model("UntagResource").input_shape.members["tagKeys"].member.name == tag_map.key.name
    ours = desired_json_schema()["properties"]["tags"]
    assert (ours["type"], ours["maxProperties"]) == ("object", tag_map.metadata["max"])
    key, value = ours["propertyNames"], ours["additionalProperties"]
    assert (key["minLength"], key["maxLength"]) == (tag_map.key.metadata["min"], tag_map.key.metadata["max"])
    assert (value["minLength"], value["maxLength"]) == (tag_map.value.metadata["min"], tag_map.value.metadata["max"])
    assert key["not"] == {"pattern": "^[Aa][Ww][Ss]:"}  # AWS's own keys, which no file may manage


def test_every_leaf_of_create_membership_is_ours_with_the_same_constraints() -> None:
    """A join sends CreateMembership with the file's settings: every leaf it takes must be one a file can give,
    with the same constraints. Required-ness differs on purpose: CreateMembership's required members are a
    join's plan-time checks (queryLogStatus; queryCompute, which the plan fills), not every file's."""
    theirs = dict(botocore_leaves(_model().operation_model("CreateMembership").input_shape))
    schema = desired_json_schema()
    ours = dict(our_leaves(schema, schema["$defs"]))
    renamed = {"paymentConfiguration": "membershipPaymentConfiguration"}
    problems = []
    for path, constraints in theirs.items():
        head, _, rest = path.partition(".")
        mine = ".".join(part for part in (renamed.get(head, head), rest) if part)
        if mine not in ours:
            problems.append(f"CreateMembership has {path}, which a join file cannot give")
            continue
        if mine == "tags":
            continue  # a map: its constraints are TagResource's TagMap, checked above
        differs = {k: v for k, v in constraints.items() if k != "required" and ours[mine][k] != v}
        if differs and mine not in DELIBERATELY_DIFFERENT:
            problems.append(f"{path}: botocore says {differs}, we say {ours[mine]}")
    assert problems == []
