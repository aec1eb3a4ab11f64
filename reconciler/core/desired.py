"""Load and validate desired-state files. No AWS here: this runs before the first call, and a problem
anywhere stops everything.

Every problem carries the file, line and column so `validate` can print `FILE:LINE:COL: field: message`.
"""

from __future__ import annotations

import hashlib
import os
import re
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .models import DesiredMembership
from .plan import laid_over

if TYPE_CHECKING:
    from .config import Guardrails

MAX_FILE_BYTES = 256 * 1024
# A membership file has a few dozen nodes; anything that expands past this is an alias bomb, not settings.
MAX_EXPANDED_NODES = 10_000
# Settings nest four or five levels; data nested past this is an attack or an accident, refused before any
# recursive code (the YAML composer, validation, rendering) meets it.
MAX_DEPTH = 50
YAML_SUFFIXES = (".yaml", ".yml")
DEFAULT_DIRECTORY = "desired-state"

# What each constrained leaf must look like, in words: pydantic's raw regex is no help to a reader.
_HINTS = {
    "membershipIdentifier": "must be a membership id: a lower-case UUID of 36 characters",
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


@dataclass(frozen=True)
class DesiredFile:
    path: str
    membership: DesiredMembership
    sha256: str
    # Where each managed top-level field's value came from, when not (only) the file: "defaults[0]
    # (partners/**)" or "file + defaults[0] (partners/**)" (reconciler.yaml's shared defaults).
    origins: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadResult:
    files: list[DesiredFile]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def discover(root: Path) -> tuple[list[Path], list[Problem]]:
    """The membership files under `root`, and a problem for each file that looks like one but cannot be
    loaded, and each directory that cannot be searched: nothing is skipped silently, since a skipped file
    is a membership left unmanaged."""
    if not root.is_dir():
        return [root], []
    inside = root.resolve()
    paths: list[Path] = []
    problems: list[Problem] = []

    def unreadable(error: OSError) -> None:
        reason = error.strerror or str(error)
        message = f"a directory that cannot be read ({reason}); no file under it was loaded"
        problems.append(Problem(str(error.filename or root), 1, 1, "", message))

    for directory, subdirectories, names in os.walk(root, onerror=unreadable):
        here = Path(directory)
        for name in subdirectories:
            if (here / name).is_symlink():
                # os.walk does not follow it, and following it could load files from anywhere on the runner.
                target = os.path.realpath(here / name)
                message = (
                    f"a symbolic link to a directory ({target}); no file under it was loaded: put the files in "
                    "the desired-state directory, or link each file"
                )
                problems.append(Problem(str(here / name), 1, 1, "", message))
        for name in names:
            path = here / name
            if path.suffix.lower() not in YAML_SUFFIXES:
                continue
            refusal = _refusal(path, root, inside)
            if refusal:
                problems.append(Problem(str(path), 1, 1, "", refusal))
            elif path.is_file():
                paths.append(path)
    return sorted(paths), problems


def _refusal(path: Path, root: Path, inside: Path) -> str | None:
    if path.suffix not in YAML_SUFFIXES:
        return "the extension must be lower-case .yaml or .yml: rename the file (it was not loaded)"
    if not path.is_symlink():
        return None
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        return "a symbolic link that leads nowhere (to a missing file); nothing was loaded from it"
    except (RuntimeError, OSError):
        return "a symbolic link loop; nothing was loaded from it"
    if not target.is_relative_to(inside):
        # A pull request could otherwise make the reconciler read any file on the runner.
        return f"a symbolic link that leads outside {root} (to {target}); refused"
    return None


def load(root: Path, guardrails: Guardrails | None = None) -> LoadResult:
    """Load every desired-state file under `root` (or `root` itself), collecting all problems. With
    reconciler.yaml's guardrails: each file's settings over the shared defaults that match it, then the
    allow-list and the policies on the result."""
    if not root.exists():
        return LoadResult([], [Problem(str(root), 1, 1, "", "no such file or directory")])
    files: list[DesiredFile] = []
    paths, problems = discover(root)
    loaders = _Loaders()
    base = defaults_base(root)
    for path in paths:
        loaded, found = load_file(path, loaders, guardrails, base)
        problems.extend(found)
        if loaded is not None:
            files.append(loaded)
    problems.extend(_duplicate_memberships(files))
    return LoadResult(files, sorted(problems))


class _Loaders:
    """Two parsers: the safe one (ruamel.yaml's C parser where ruamel.yaml.clib is installed, several
    times faster) decides the common case, a valid file; only a file it does not accept is parsed again by
    the round-trip one, which knows every key's line and column for the error messages. Both read YAML 1.2
    and refuse duplicate keys, so the fast path never accepts what the located one would refuse."""

    def __init__(self) -> None:
        self.fast = YAML(typ="safe")
        self.fast.allow_duplicate_keys = False
        self.located = YAML(typ="rt")
        self.located.allow_duplicate_keys = False

    def quick(self, text: str, layers: Layers | None) -> tuple[DesiredMembership, dict[str, Any]] | str | None:
        """The settings when the file is valid; a problem with its shape, which the round-trip parser may not
        see (it loads an alias that contains itself as null, the safe one as a cycle); else None."""
        if "<<" in text:
            return None  # the safe loader would apply a merge key silently; the located path refuses it
        try:
            data = self.fast.load(text)
        except (YAMLError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        shape = shape_problem(data)
        if shape is not None:
            return shape
        if layers is not None and layers.problems:
            return None
        effective = layers.under(data) if layers is not None else data
        try:
            return DesiredMembership.model_validate(effective), data
        except ValidationError:
            return None


class Layers:
    """The shared defaults that match one file, as reconciler.yaml's Guardrails found them (config.py)."""

    def __init__(self, entries: list[tuple[str, dict[str, Any]]], problems: list[str]) -> None:
        self.entries = entries  # (label, settings), least specific first
        self.problems = problems  # equally specific entries that set the same key

    def under(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """`data` deep-merged over the defaults: the file wins, then the more specific default."""
        merged: dict[str, Any] = {}
        for _label, settings in self.entries:
            merged = laid_over(merged, settings)
        return laid_over(merged, data)

    def origins(self, data: Mapping[str, Any], fields: Iterable[str]) -> dict[str, str]:
        """For each field that is not the file's alone, who set its leaves, file first."""
        if not self.entries:
            return {}
        sources: dict[tuple[str, ...], str] = {}
        for label, settings in [*self.entries, ("file", dict(data))]:
            for leaf in leaf_paths(settings):
                # A value laid over a shorter or longer path replaces what was there.
                for known in [k for k in sources if k[: len(leaf)] == leaf or leaf[: len(k)] == k]:
                    del sources[known]
                sources[leaf] = label
        origins = {}
        order = ["file", *(label for label, _ in self.entries)]  # a stable order: plans are compared and hashed
        for name in fields:
            setters = {label for leaf, label in sources.items() if leaf[0] == name}
            labels = [label for label in order if label in setters]
            if labels and labels != ["file"]:
                origins[name] = " + ".join(labels)
        return origins


def leaf_paths(value: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterable[tuple[str, ...]]:
    for key, child in value.items():
        if isinstance(child, Mapping) and child:
            yield from leaf_paths(child, (*prefix, str(key)))
        else:
            yield (*prefix, str(key))


def defaults_base(root: Path) -> Path:
    """What reconciler.yaml's default globs are relative to: the desired-state directory, whatever part of
    it PATH names. That is the nearest directory named `desired-state` that holds PATH (or is PATH), so
    `plan desired-state`, `plan desired-state/partners` and `plan desired-state/partners/a.yaml` give a file
    the same defaults; a tree named otherwise is its own base, and is named whole."""
    for candidate in (root, *root.parents):
        if candidate.name == DEFAULT_DIRECTORY:
            return candidate
    for candidate in (root.absolute(), *root.absolute().parents):
        if candidate.name == DEFAULT_DIRECTORY:
            return candidate
    return root if root.is_dir() else root.parent


def load_file(
    path: Path, loaders: _Loaders | None = None, guardrails: Guardrails | None = None, base: Path | None = None
) -> tuple[DesiredFile | None, list[Problem]]:
    name = str(path)
    raw, text, problems = read_text(path)
    if text is None:
        return None, problems
    loaders = loaders or _Loaders()
    sha256 = hashlib.sha256(raw).hexdigest()
    layers = guardrails.layers(path, base or path.parent) if guardrails is not None else None
    quick = loaders.quick(text, layers)
    if isinstance(quick, str):
        return None, [Problem(name, 1, 1, "", quick)]
    if quick is not None:
        membership, data = quick
    else:
        located, problems = parse_located(name, text, loaders.located)
        if located is None:
            return None, problems
        data = typing.cast(dict[str, Any], plain_data(located))
        if layers is not None and layers.problems:
            return None, [Problem(name, 1, 1, "", problem) for problem in layers.problems]
        effective = layers.under(data) if layers is not None else data
        try:
            membership = DesiredMembership.model_validate(effective)
        except ValidationError as exc:
            problems = [validation_problem(name, located, err) for err in exc.errors()]
            if layers is not None and layers.entries:
                labels = ", ".join(label for label, _ in layers.entries)
                problems = [replace(p, message=f"{p.message} (after reconciler.yaml's {labels})") for p in problems]
            return None, problems
    origins = layers.origins(data, membership.managed()) if layers is not None else {}
    loaded = DesiredFile(name, membership, sha256, origins)
    return loaded, guardrails.check(loaded, text) if guardrails is not None else []


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


def _identifier_line(path: str) -> int:
    """Line of `membershipIdentifier` in a valid file, for errors about the membership it names."""
    data = YAML(typ="rt").load(Path(path).read_text(encoding="utf-8-sig"))
    return int(data.lc.key("membershipIdentifier")[0]) + 1


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
    loc = tuple(err["loc"])
    line, col = locate(root, (*prefix, *loc), point_at_key=err["type"] == "extra_forbidden")
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


def _duplicate_memberships(files: list[DesiredFile]) -> list[Problem]:
    by_id: dict[str, list[DesiredFile]] = {}
    for loaded in files:
        by_id.setdefault(loaded.membership.membershipIdentifier, []).append(loaded)
    problems = []
    for membership_id, group in by_id.items():
        if len(group) < 2:
            continue
        lines = {loaded.path: _identifier_line(loaded.path) for loaded in group}
        for loaded in group:
            others = ", ".join(f"{o.path}:{lines[o.path]}" for o in group if o is not loaded)
            problems.append(
                Problem(
                    loaded.path,
                    lines[loaded.path],
                    1,
                    "membershipIdentifier",
                    f"membership {membership_id} is also declared in {others}; one file per membership",
                )
            )
    return problems
