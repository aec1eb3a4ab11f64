"""YAML documents and their problems: read a file safely, parse it knowing every key's line and column,
refuse shapes no settings have (alias bombs, deep nesting), and turn a validation error into
`FILE:LINE:COL: field: message` with words a reader can act on.

Shared by the membership files (desired.py), reconciler.yaml (config.py) and saved plans (saved.py).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .models import UNNAMED, DesiredMembership

MAX_FILE_BYTES = 256 * 1024
# A membership file has a few dozen nodes; anything that expands past this is an alias bomb, not settings.
MAX_EXPANDED_NODES = 10_000
# Settings nest four or five levels; data nested past this is an attack or an accident, refused before any
# recursive code (the YAML composer, validation, rendering) meets it.
MAX_DEPTH = 50

# What each constrained leaf must look like, in words: pydantic's raw regex is no help to a reader.
_HINTS = {
    "membershipIdentifier": "must be a membership id: a lower-case UUID of 36 characters",
    "collaborationIdentifier": "must be a collaboration id: a lower-case UUID of 36 characters",
    "bucket": "must be an S3 bucket name: 3-63 lower-case letters, digits, dots and hyphens",
    "keyPrefix": "must be at most 512 characters of letters, digits, _ ! . = * / -",
    "roleArn": "must be an IAM role ARN like arn:aws:iam::111122223333:role/NAME (32-512 characters)",
    "region": "must be an AWS region name like us-east-1",
    "accountId": 'must be a quoted 12-digit account id, e.g. accountId: "111122223333"',
}
_HINTED_ERRORS = {"string_pattern_mismatch", "string_too_short", "string_too_long"}


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    col: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


def leaf_paths(value: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterable[tuple[str, ...]]:
    for key, child in value.items():
        if isinstance(child, Mapping) and child:
            yield from leaf_paths(child, (*prefix, str(key)))
        else:
            yield (*prefix, str(key))


def read_text(path: Path) -> tuple[bytes, str | None, list[Problem]]:
    """The file's bytes and text, or why it cannot be read as UTF-8 YAML of a sensible size."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return b"", None, [Problem(name, 1, 1, "", f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")]
        raw = path.read_bytes()
    except OSError as exc:
        return b"", None, [Problem(name, 1, 1, "", f"cannot be read ({exc.strerror or exc})")]
    try:
        return raw, raw.decode("utf-8").removeprefix("\ufeff"), []
    except UnicodeDecodeError as exc:
        line, col = _position(raw[: exc.start])
        return raw, None, [Problem(name, line, col, "", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})")]


def parse_located(name: str, text: str, parser: YAML | None = None) -> tuple[CommentedMap | None, list[Problem]]:
    """The round-trip parse, which knows each key's line and column, or the problems that stop it."""
    if parser is None:
        parser = YAML(typ="rt")
        parser.allow_duplicate_keys = False
    try:
        data = parser.load(text)
    except MarkedYAMLError as exc:
        return None, [_yaml_problem(name, exc)]
    except YAMLError as exc:
        return None, [Problem(name, 1, 1, "", f"YAML error: {exc}")]
    except RecursionError:
        # The composer recurses per level of nesting: only data nested far past MAX_DEPTH gets here.
        return None, [Problem(name, 1, 1, "", too_deep(MAX_DEPTH, SETTINGS_USUALLY[0]))]
    if not isinstance(data, CommentedMap):
        return None, [Problem(name, 1, 1, "", f"the top level must be a mapping of settings, not {_kind(data)}")]
    shape = shape_problem(data)
    if shape is not None:
        return None, [Problem(name, 1, 1, "", shape)]
    if _has_merge(data):
        line = next((i for i, text_line in enumerate(text.splitlines(), 1) if _MERGE.search(text_line)), 1)
        message = "YAML merge keys (<<) are not supported (YAML 1.2 has none): write each setting out"
        return None, [Problem(name, line, 1, "", message)]
    return data, []


def _position(prefix: bytes) -> tuple[int, int]:
    return prefix.count(b"\n") + 1, len(prefix) - (prefix.rfind(b"\n") + 1) + 1


def _yaml_problem(name: str, exc: MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
    if "duplicate key" in message:
        message = f"{exc.problem}; each key may appear once (YAML parsers differ on which one wins)"
    return Problem(name, line, col, "", message or "YAML syntax error")


# How deep and how large a membership file's settings usually are, said after a problem with either.
SETTINGS_USUALLY = ("settings are a few levels deep", "a membership file has a few dozen")


def too_deep(depth: int, usually: str) -> str:
    return f"nested more than {depth} levels deep; {usually}"


def shape_problem(
    root: object,
    limit: int = MAX_EXPANDED_NODES,
    depth: int = MAX_DEPTH,
    usual: tuple[str, str] = SETTINGS_USUALLY,
) -> str | None:
    """Why parsed data (YAML or JSON) cannot be anyone's settings, whatever its keys: nested too deeply, an
    alias that contains itself, or more values (aliases expanded) than `limit`. None: its shape is sound.
    `usual` says, after a problem, how deep and how large such data usually is.

    ruamel.yaml shares one object per anchor, so counting by identity measures an alias bomb without
    expanding it, in time linear in the file; and the walk keeps its own stack, so no nesting exhausts
    Python's."""
    if not isinstance(root, dict | list):
        return None
    memo: dict[int, int] = {}
    shared = False
    on_path = {id(root)}
    stack: list[_Frame] = [_Frame(root, 1)]
    while stack:
        frame = stack[-1]
        child = next(frame.children, _DONE)
        if child is _DONE:
            stack.pop()
            on_path.discard(id(frame.node))
            memo[id(frame.node)] = frame.total
            if not stack:
                return None
            stack[-1].total += frame.total
        elif not isinstance(child, dict | list):
            frame.total += 1
        elif id(child) in memo:
            shared = True
            frame.total += memo[id(child)]
        elif id(child) in on_path:
            return "a YAML alias that contains itself; write the setting out"
        elif frame.level >= depth:
            return too_deep(depth, usual[0])
        else:
            on_path.add(id(child))
            stack.append(_Frame(child, frame.level + 1))
            continue
        if stack[-1].total > limit:
            if shared:
                return f"YAML aliases expand past {limit} nodes"
            return f"more than {limit} values; {usual[1]}"
    return None


_DONE = object()


class _Frame:
    """One container being counted by shape_problem."""

    def __init__(self, node: dict[Any, Any] | list[Any], level: int) -> None:
        self.node = node
        self.level = level
        self.children: Iterator[object] = iter(node.values() if isinstance(node, dict) else node)
        self.total = 1


def plain_data(node: object) -> object:
    # Plain containers so pydantic's strict mode sees dict/list/str, not ruamel's subclasses.
    if isinstance(node, dict):
        return {_key_name(k): plain_data(v) for k, v in node.items()}
    if isinstance(node, TaggedScalar):
        # An explicit tag (`!!str ENABLED`): the safe loader reads the value itself, and so do we.
        return str(node.value)
    if isinstance(node, list):
        return [plain_data(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


_MERGE = re.compile(r"(^|[{,\s])<<\s*:")


def _has_merge(node: object) -> bool:
    if isinstance(node, CommentedMap):
        return bool(node.merge) or any(_has_merge(v) for v in node.values())
    return isinstance(node, list) and any(_has_merge(v) for v in node)


def _kind(data: object) -> str:
    if data is None:
        return "empty"
    if isinstance(data, list):
        return "a list"
    return "a bool" if isinstance(data, bool) else f"a single value ({data!r})"


def _key_name(key: object) -> str:
    """A mapping key as the validation sees it: YAML allows numbers and null as keys, settings do not."""
    return "null" if key is None else str(key)


def _shown(part: int | str) -> str:
    # A key with stray white space would look like a valid one: show its quotes.
    text = str(part)
    return repr(text) if text != text.strip() or not text else text


def validation_problem(
    name: str,
    root: CommentedMap,
    err: ErrorDetails,
    model: type[BaseModel] = DesiredMembership,
    prefix: tuple[int | str, ...] = (),
) -> Problem:
    """`err` at its line and column in `root`; `prefix` is where the validated value sits in `root`."""
    loc = tuple(err["loc"]) or (("membershipIdentifier",) if err["type"] == UNNAMED else ())
    on_key = loc[-1:] == ("[key]",)  # pydantic's mark for a mapping's key (a tag key) that is refused
    loc = loc[:-1] if on_key else loc
    line, col = locate(root, (*prefix, *loc), point_at_key=on_key or err["type"] == "extra_forbidden")
    field = ".".join(_shown(part) for part in (*prefix, *loc))
    return Problem(name, line, col, field, explain(loc, err, model))


def locate(root: CommentedMap, loc: tuple[int | str, ...], *, point_at_key: bool = True) -> tuple[int, int]:
    """The line and column of the deepest part of `loc` present in `root` (1, 1 when none is)."""
    line, col = 0, 0
    node: object = root
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line, col = node.lc.item(part)
            node = node[part]
            continue
        # Anything but a mapping or a list is reported at the key that holds it.
        if not isinstance(node, CommentedMap):
            break
        keys = [k for k in node if _key_name(k) == part]  # the YAML key (a number, null) behind its name
        if not keys:
            break
        key = keys[0]
        line, col = node.lc.key(key) if (point_at_key or not last) else node.lc.value(key)
        node = node[key]
    return line + 1, col + 1


def explain(loc: tuple[int | str, ...], err: ErrorDetails, model: type[BaseModel] = DesiredMembership) -> str:
    leaf = str(loc[-1]) if loc else ""
    value = err.get("input")
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], model)
        return f"unknown key; allowed here: {', '.join(allowed)}" if allowed else "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in _HINTED_ERRORS and leaf in _HINTS:
        return f"{_HINTS[leaf]}; got {value!r}"
    if (leaf == "accountId" or loc[:1] == ("accounts",)) and kind == "string_type":
        return f"{_HINTS['accountId']} (unquoted, YAML reads a number and drops leading zeros); got {value!r}"
    if kind == "literal_error":
        return f"{err['msg']}; got {value!r}"
    message = err["msg"].removeprefix("Value error, ")
    return f"{message}; got {value!r}" if kind.endswith("_type") else message


def _allowed_keys(loc: tuple[int | str, ...], root: type[BaseModel]) -> list[str]:
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            continue  # an item of a list of models
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return []
        model = _model_in(model.model_fields[part].annotation)
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (typing.Union, list):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
