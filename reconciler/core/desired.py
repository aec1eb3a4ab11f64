"""Find and load the desired-state files: one membership each, validated, with reconciler.yaml's shared
defaults under them. No AWS here: this runs before the first call, and a problem anywhere stops everything.

How a file's problems are found and placed (line, column, field) is documents.py's; what reconciler.yaml
adds is the `Rules` it is given, so this module does not know config.py.
"""

from __future__ import annotations

import hashlib
import os
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .documents import Problem, leaf_paths, parse_located, plain_data, read_text, shape_problem, validation_problem
from .models import DesiredMembership
from .plan import laid_over

YAML_SUFFIXES = (".yaml", ".yml")
DEFAULT_DIRECTORY = "desired-state"


@dataclass(frozen=True)
class DesiredFile:
    path: str
    membership: DesiredMembership
    sha256: str
    # Where each managed top-level field's value came from, when not (only) the file: "defaults[0]
    # (partners/**)" or "file + defaults[0] (partners/**)" (reconciler.yaml's shared defaults).
    origins: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> set[str]:
        """What --membership selects it by: its membership id, or its collaboration's for a file naming that."""
        found = (self.membership.membershipIdentifier, self.membership.collaborationIdentifier)
        return {i for i in found if i is not None}


@dataclass(frozen=True)
class LoadResult:
    files: list[DesiredFile]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


class Rules(Protocol):
    """What loading needs of reconciler.yaml (config.Guardrails): the shared defaults under a file, and the
    allow-list and policies on the file as loaded."""

    def layers(self, file: Path, base: Path) -> Layers: ...

    def check(self, loaded: DesiredFile, text: str) -> list[Problem]: ...


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


def load(root: Path, guardrails: Rules | None = None) -> LoadResult:
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
    path: Path, loaders: _Loaders | None = None, guardrails: Rules | None = None, base: Path | None = None
) -> tuple[DesiredFile | None, list[Problem]]:
    raw, text, problems = read_text(path)
    if text is None:
        return None, problems
    return load_text(path, raw, text, loaders, guardrails, base)


def load_text(
    path: Path,
    raw: bytes,
    text: str,
    loaders: _Loaders | None = None,
    guardrails: Rules | None = None,
    base: Path | None = None,
) -> tuple[DesiredFile | None, list[Problem]]:
    """The file at `path` as if it held `text` (`raw` its bytes): how a rewrite is checked before it is
    written, with the same defaults, allow-list and policies as the file."""
    name = str(path)
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


def _key_line(path: str, key: str) -> int:
    """Line of `key` in a valid file, for errors about the membership it names."""
    data = YAML(typ="rt").load(Path(path).read_text(encoding="utf-8-sig"))
    return int(data.lc.key(key)[0]) + 1


def _duplicate_memberships(files: list[DesiredFile]) -> list[Problem]:
    """Two files for one membership: the same id, or the same collaboration in the same account (an account
    has one membership per collaboration). A file naming an id and another naming its collaboration are only
    found once the collaboration is listed (the plan says so)."""
    groups: dict[tuple[str, str, str | None], list[DesiredFile]] = {}
    for loaded in files:
        membership = loaded.membership
        if membership.membershipIdentifier is not None:
            groups.setdefault(("membershipIdentifier", membership.membershipIdentifier, None), []).append(loaded)
        if membership.collaborationIdentifier is not None:
            key = ("collaborationIdentifier", membership.collaborationIdentifier, membership.accountId)
            groups.setdefault(key, []).append(loaded)
    problems = []
    for (name, identifier, account), group in groups.items():
        if len(group) < 2:
            continue
        lines = {loaded.path: _key_line(loaded.path, name) for loaded in group}
        what = (
            f"membership {identifier}"
            if name == "membershipIdentifier"
            else f"the membership in collaboration {identifier} (account {account or 'of the credentials'})"
        )
        for loaded in group:
            others = ", ".join(f"{o.path}:{lines[o.path]}" for o in group if o is not loaded)
            problems.append(
                Problem(
                    loaded.path,
                    lines[loaded.path],
                    1,
                    name,
                    f"{what} is also declared in {others}; one file per membership",
                )
            )
    return problems
