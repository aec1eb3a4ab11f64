"""The desired settings of one membership, mirroring the UpdateMembership request, and the live view.

botocore checks types and required keys but not enums, maximum lengths or patterns, so every constraint
the API documents is enforced here, before any call (see REFERENCE.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from .api import ACCOUNT_ID_PATTERN, REGION_PATTERN

MEMBERSHIP_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# ASCII classes, spelled out: the API's patterns are Java's, where \w and \d are ASCII, but pydantic's regex
# engine (Rust's) reads them as Unicode, so an Arabic-Indic digit in a region or a full-width account id would pass.
_WORD = "A-Za-z0-9_"
ROLE_ARN_PATTERN = rf"^arn:aws:iam::[{_WORD}]+:role/[{_WORD}+=./@-]+$"
KEY_PREFIX_PATTERN = rf"^[{_WORD}!.=*/-]*$"
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$"
# REGION_PATTERN and ACCOUNT_ID_PATTERN live with Where (api.py), which parses them from --target and reports.

# The top-level fields UpdateMembership can change, in the order files and plans show them.
SETTABLE_FIELDS: tuple[str, ...] = (
    "queryLogStatus",
    "jobLogStatus",
    "defaultResultConfiguration",
    "defaultJobResultConfiguration",
    "membershipPaymentConfiguration",
)
# The membership's tags: not part of UpdateMembership (TagResource / UntagResource / ListTagsForResource), but
# managed like a field, so the plan, its hash, saved plans, receipts and guards count a tag change as one.
TAGS = "tags"
MANAGED_FIELDS: tuple[str, ...] = (*SETTABLE_FIELDS, TAGS)
# Keys AWS keeps for itself: never read into a plan, never sent, and an error in a file.
RESERVED_TAG_PREFIX = "aws:"
MAX_TAGS = 200
# GetMembership names the payment settings differently from the UpdateMembership request.
LIVE_NAMES = {"membershipPaymentConfiguration": "paymentConfiguration"}
# The botocore version whose cleanrooms model these models were last checked against (tests/test_api_surface.py).
CHECKED_AGAINST_BOTOCORE = "1.44.8"
RESULT_CONFIGURATIONS = ("defaultResultConfiguration", "defaultJobResultConfiguration")


def _bucket_rules(name: str) -> str:
    # The pattern cannot express these S3 naming rules; the service would reject them after a round trip.
    if ".." in name:
        raise ValueError("an S3 bucket name cannot contain two adjacent dots")
    if any(not (label[:1].isalnum() and label[-1:].isalnum()) for label in name.split(".")):
        raise ValueError("each dot-separated part of an S3 bucket name must start and end with a letter or digit")
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        raise ValueError("an S3 bucket name cannot be formatted as an IP address")
    if name.startswith("xn--") or name.endswith("-s3alias"):
        raise ValueError("an S3 bucket name cannot start with 'xn--' or end with '-s3alias'")
    return name


def _not_reserved(key: str) -> str:
    if is_reserved_tag(key):
        raise ValueError(f"tag keys beginning {RESERVED_TAG_PREFIX!r} are AWS's own and cannot be managed")
    return key


def is_reserved_tag(key: str) -> bool:
    return key.lower().startswith(RESERVED_TAG_PREFIX)


def user_tags(tags: Mapping[str, Any]) -> dict[str, Any]:
    """The tags a file can manage: every key but AWS's own."""
    return {key: value for key, value in tags.items() if not is_reserved_tag(key)}


LogStatus = Literal["ENABLED", "DISABLED"]
ResultFormat = Literal["CSV", "PARQUET"]
MembershipId = Annotated[str, StringConstraints(min_length=36, max_length=36, pattern=MEMBERSHIP_ID_PATTERN)]
CollaborationId = Annotated[str, StringConstraints(min_length=36, max_length=36, pattern=MEMBERSHIP_ID_PATTERN)]
Bucket = Annotated[
    str, StringConstraints(min_length=3, max_length=63, pattern=BUCKET_PATTERN), AfterValidator(_bucket_rules)
]
KeyPrefix = Annotated[str, StringConstraints(max_length=512, pattern=KEY_PREFIX_PATTERN)]
RoleArn = Annotated[str, StringConstraints(min_length=32, max_length=512, pattern=ROLE_ARN_PATTERN)]
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
AccountId = Annotated[str, StringConstraints(pattern=ACCOUNT_ID_PATTERN)]
TagKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128),
    AfterValidator(_not_reserved),
    # So an editor refuses AWS's own keys too, as validate does.
    Field(json_schema_extra={"not": {"pattern": "^[Aa][Ww][Ss]:"}}),
]
TagValue = Annotated[str, StringConstraints(min_length=0, max_length=256)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=MAX_TAGS)]


# The error of a file that names neither its membership nor its collaboration: reported at membershipIdentifier.
UNNAMED = "unnamed_membership"


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: object) -> object:
        # Only an explicit `key: null` reaches here (defaults are not validated). Absent means unmanaged;
        # null means nothing the API can do, so it is never silently read as "absent".
        if value is None:
            raise ValueError("null is not allowed; leave the key out to leave it unmanaged")
        return value


class QueryS3Output(StrictModel):
    resultFormat: ResultFormat
    bucket: Bucket
    keyPrefix: KeyPrefix | None = None
    singleFileOutput: bool | None = None


class QueryOutputConfiguration(StrictModel):
    # A tagged union on the wire; s3 is its only member today, so "exactly one" is "s3, nothing else".
    s3: QueryS3Output


class DefaultResultConfiguration(StrictModel):
    outputConfiguration: QueryOutputConfiguration
    roleArn: RoleArn | None = None


class JobS3Output(StrictModel):
    # Optional: the service writes job results as CSV when no format is given.
    resultFormat: ResultFormat | None = None
    bucket: Bucket
    keyPrefix: KeyPrefix | None = None


class JobOutputConfiguration(StrictModel):
    s3: JobS3Output


class DefaultJobResultConfiguration(StrictModel):
    outputConfiguration: JobOutputConfiguration
    roleArn: RoleArn


class Responsibility(StrictModel):
    isResponsible: bool


class MachineLearningPayment(StrictModel):
    modelTraining: Responsibility | None = None
    modelInference: Responsibility | None = None
    syntheticDataGeneration: Responsibility | None = None


class MembershipPaymentConfiguration(StrictModel):
    """Whether this member accepts paying for each kind of compute. The collaboration's creator designates
    payers; a member can only accept that (the plan checks it). Sub-keys left out are unmanaged."""

    queryCompute: Responsibility | None = None
    jobCompute: Responsibility | None = None
    machineLearning: MachineLearningPayment | None = None


class DesiredMembership(StrictModel):
    """One desired-state file. A settings key left out is unmanaged: never compared, never sent."""

    # The schema says what the validator checks: one of the two names the membership.
    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["membershipIdentifier"]}, {"required": ["collaborationIdentifier"]}]}
    )

    membershipIdentifier: MembershipId | None = Field(
        default=None, description="The membership's id (a lower-case UUID); or name it by collaborationIdentifier."
    )
    collaborationIdentifier: CollaborationId | None = Field(
        default=None,
        description="The collaboration's id: names the account's one membership in it; with an invitation and no "
        "membership yet, apply joins it (CreateMembership).",
    )
    region: Region | None = Field(default=None, description="Region of the membership; else --region.")
    accountId: AccountId | None = Field(
        default=None, description="Guard: must equal the account in the live membership ARN (quote it)."
    )
    collaborationName: str | None = Field(
        default=None, min_length=1, description="Guard: must equal the live membership's collaboration name."
    )
    queryLogStatus: LogStatus | None = None
    jobLogStatus: LogStatus | None = None
    defaultResultConfiguration: DefaultResultConfiguration | None = None
    defaultJobResultConfiguration: DefaultJobResultConfiguration | None = None
    membershipPaymentConfiguration: MembershipPaymentConfiguration | None = None
    isMetricsEnabled: bool | None = Field(
        default=None, description="Settable only when joining (CreateMembership); checked, never changed, after."
    )
    tags: Tags | None = Field(
        default=None,
        description="The membership's tags, as a whole set: keys not listed are removed (never those beginning aws:).",
    )

    @field_validator(*RESULT_CONFIGURATIONS, mode="before")
    @classmethod
    def _no_removal(cls, value: object) -> object:
        if value is None:
            raise ValueError(
                "null cannot remove a result configuration: UpdateMembership has no way to clear one "
                "(only leaving and re-joining the collaboration does); "
                "leave the key out to leave it unmanaged"
            )
        return value

    @model_validator(mode="after")
    def _named(self) -> DesiredMembership:
        if self.membershipIdentifier is None and self.collaborationIdentifier is None:
            raise PydanticCustomError(
                UNNAMED,
                "required key is missing: name the membership by membershipIdentifier, or by collaborationIdentifier "
                "(the account's one membership in that collaboration, joined on apply when the account is invited)",
            )
        return self

    @property
    def key(self) -> str:
        """What names this file's membership before any read: its id, else `collaboration:ID`."""
        return self.membershipIdentifier or f"collaboration:{self.collaborationIdentifier}"

    def managed(self) -> dict[str, Any]:
        """The fields this file manages (the settable ones and tags), as request values."""
        dumped = self.model_dump(mode="json", exclude_none=True)
        return {name: dumped[name] for name in MANAGED_FIELDS if name in self.model_fields_set}


class NoNullJsonSchema(GenerateJsonSchema):
    # `X | None = None` is how pydantic spells "optional" here, but no key accepts null; the schema says so.
    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default") is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


def desired_json_schema() -> dict[str, Any]:
    schema = DesiredMembership.model_json_schema(schema_generator=NoNullJsonSchema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Clean Rooms membership desired state",
        **{k: v for k, v in schema.items() if k != "title"},
    }


@dataclass(frozen=True)
class LiveMembership:
    """What GetMembership returned, reduced to what planning needs."""

    membershipIdentifier: str
    arn: str
    region: str
    collaborationName: str
    status: str
    memberAbilities: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    collaborationId: str = ""
    # The payment responsibilities the collaboration's creator designated for this member (ListMembers),
    # read only when a file manages payment settings.
    designatedPayment: dict[str, Any] | None = None
    # Settable only by CreateMembership; None when the service does not say.
    metricsEnabled: bool | None = None

    @property
    def accountId(self) -> str:
        # arn:aws:cleanrooms:REGION:ACCOUNT:membership/ID
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 5 else ""

    @classmethod
    def from_api(cls, membership: dict[str, Any], region: str) -> LiveMembership:
        return cls(
            membershipIdentifier=membership["id"],
            arn=membership["arn"],
            region=region,
            collaborationName=membership.get("collaborationName", ""),
            status=membership.get("status", ""),
            memberAbilities=tuple(membership.get("memberAbilities", ())),
            settings={
                k: membership[LIVE_NAMES.get(k, k)] for k in SETTABLE_FIELDS if LIVE_NAMES.get(k, k) in membership
            },
            collaborationId=membership.get("collaborationId", ""),
            metricsEnabled=membership.get("isMetricsEnabled"),
        )

    def with_tags(self, tags: Mapping[str, Any]) -> LiveMembership:
        """With its tags as read (ListTagsForResource), AWS's own left out: only a file that manages tags
        has them read, so a membership without `tags` in its settings has them unmanaged."""
        return replace(self, settings={**self.settings, TAGS: user_tags(tags)})
