"""Live membership -> desired-state file, for adopting existing memberships. Pure: no AWS, no printing.

A new file holds the identifier, the guards and every settable field that is set live, in CONTRACT.md's
key order. An existing file is updated in place through ruamel.yaml's round trip, so its comments and key
order survive; a key the live membership no longer has is dropped, so a plan right after is empty.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from .models import MANAGED_FIELDS, SETTABLE_FIELDS, TAGS, LiveMembership

GUARDS = ("region", "accountId", "collaborationName")
SCHEMA_COMMENT = "# yaml-language-server: $schema={schema}\n"
# CONTRACT.md's order, all the way down, so an imported file reads like the documented example.
KEY_ORDER = (
    "membershipIdentifier",
    "collaborationIdentifier",
    "region",
    "accountId",
    "collaborationName",
    *MANAGED_FIELDS,
    "roleArn",
    "outputConfiguration",
    "s3",
    "resultFormat",
    "bucket",
    "keyPrefix",
    "singleFileOutput",
)


def file_name(live: LiveMembership) -> str:
    """`<collaboration-slug>-<first 8 of the id>.yaml`: readable, and unique even for equal names."""
    slug = re.sub(r"[^a-z0-9]+", "-", live.collaborationName.lower()).strip("-")[:60] or "membership"
    return f"{slug}-{live.membershipIdentifier[:8]}.yaml"


def desired_document(
    live: LiveMembership, shared: Mapping[str, Any] | None = None, by_collaboration: bool = False
) -> CommentedMap:
    """The file for `live`; without what `shared` (reconciler.yaml's defaults for this file) already gives,
    so the file states only how this membership differs, and follows the defaults when they change. With
    `by_collaboration` it names the collaboration instead of the membership."""
    key, identifier = (
        ("collaborationIdentifier", live.collaborationId)
        if by_collaboration
        else ("membershipIdentifier", live.membershipIdentifier)
    )
    document: dict[str, Any] = {
        key: identifier,
        "region": live.region,
        "accountId": live.accountId,
        "collaborationName": live.collaborationName,
    }
    document |= {name: live.settings[name] for name in SETTABLE_FIELDS if live.settings.get(name) is not None}
    if live.settings.get(TAGS):
        # Only a membership that has tags gets `tags:`: an empty one would claim the set, and remove any tag
        # someone adds later; a file for an untagged membership leaves its tags unmanaged.
        document[TAGS] = live.settings[TAGS]
    return _ordered(_beyond(document, shared or {}))


def _beyond(value: Mapping[str, Any], shared: Mapping[str, Any]) -> dict[str, Any]:
    """The leaves of `value` that `shared` does not hold with the same value; emptied mappings dropped."""
    kept: dict[str, Any] = {}
    for key, item in value.items():
        given = shared.get(key)
        if isinstance(item, Mapping) and isinstance(given, Mapping):
            rest = _beyond(item, given)
            if rest:
                kept[key] = rest
        elif key in ("membershipIdentifier", "collaborationIdentifier") or given != item:
            kept[key] = item
    return kept


def _ordered(value: Mapping[str, Any], *, by_name: bool = False) -> CommentedMap:
    rank = {} if by_name else {key: i for i, key in enumerate(KEY_ORDER)}
    keys = sorted(value, key=lambda k: (rank.get(k, len(rank)), k))
    # Tag keys are anyone's words: in name order, never ranked as if one named a setting.
    return CommentedMap(
        (k, _ordered(v, by_name=by_name or k == TAGS) if isinstance(v, Mapping) else _exact(v))
        for k in keys
        for v in [value[k]]
    )


def _exact(value: Any) -> Any:
    """A string that reads back as written: one with anything but printable ASCII is double-quoted, where
    YAML escapes it (plain or single-quoted, U+0085 or U+2028 would read back as a line break or a space,
    and the file's collaborationName guard would then fail)."""
    if isinstance(value, str) and not re.fullmatch(r"[ -~]*", value):
        return DoubleQuotedScalarString(value)
    return value


def render_new(
    live: LiveMembership, schema_path: str, shared: Mapping[str, Any] | None = None, by_collaboration: bool = False
) -> str:
    return _dumped(_yaml(), desired_document(live, shared, by_collaboration), SCHEMA_COMMENT.format(schema=schema_path))


def render_update(existing_text: str, live: LiveMembership) -> str:
    """The existing file with its values brought to `live`, comments and key order kept."""
    yaml = _yaml()
    document = yaml.load(existing_text)
    if not isinstance(document, CommentedMap):
        document = CommentedMap()
    # A file keeps naming its membership the way it does.
    wanted = desired_document(live, by_collaboration="membershipIdentifier" not in document)
    if TAGS in document and TAGS in live.settings:
        # The file manages the set: it follows the live one, even to empty.
        wanted[TAGS] = _ordered(live.settings[TAGS], by_name=True)
    for guard in GUARDS:
        # A guard the file's author left out stays out; one they kept is brought up to date.
        if guard not in document:
            del wanted[guard]
    _merge(document, wanted, removable=MANAGED_FIELDS)
    return _dumped(yaml, document)


def render_adopted(existing_text: str, values: Mapping[str, Any]) -> str:
    """The existing file with these top-level fields set to these values, comments and key order kept; a
    field the file did not hold (it came from reconciler.yaml's defaults) is added at its end."""
    yaml = _yaml()
    document = yaml.load(existing_text)
    _merge(document, _ordered(values), removable=())  # only these fields: every other key stays
    return _dumped(yaml, document)


def _merge(target: CommentedMap, source: Mapping[str, Any], removable: tuple[str, ...] | None = None) -> None:
    """Bring `target` to `source` in place; keys in both keep their position and comments. A key of `target`
    not in `source` is removed if `removable` names it (None: any key)."""
    for key, value in source.items():
        current = target.get(key)
        if isinstance(current, CommentedMap) and isinstance(value, Mapping):
            _merge(current, value)
        elif key not in target or current != value or isinstance(value, DoubleQuotedScalarString):
            # A string that needs quoting is set again even when equal: the file may hold it unquoted.
            target[key] = value
    for key in [k for k in (tuple(target) if removable is None else removable) if k in target and k not in source]:
        del target[key]


def _dumped(yaml: YAML, document: Any, head: str = "") -> str:
    stream = io.StringIO()
    stream.write(head)
    yaml.dump(document, stream)
    return stream.getvalue()


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True  # a rewrite keeps the file's own quoting: its diff shows the values alone
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 120
    return yaml
