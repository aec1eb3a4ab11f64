"""reconciler.yaml: the organisation's guardrails, enforced by the tool itself when files are loaded.

- `accounts`: the allow-list of accounts a file may name (a file naming none is checked at plan time,
  against the account in the live membership's ARN, so validate stays free of AWS calls).
- `policies`: CEL rules over each file's effective settings (Kubernetes' convention), compiled and
  type-checked when the config loads, evaluated on every file; a violation is a validate error.
- `defaults`: settings shared by the files a glob matches, laid under each file's own.
- `maxChangesPercent`: apply's blast radius (usecases/guard.py; octoDNS's rule).

Pure: no AWS. Every problem names reconciler.yaml's (or the membership file's) line and column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, StringConstraints, ValidationError

from .desired import DesiredFile, Layers
from .documents import Problem, leaf_paths, locate, parse_located, plain_data, read_text, validation_problem
from .environment import CONFIG_VARIABLE
from .models import AccountId, DesiredMembership, NoNullJsonSchema, StrictModel

if TYPE_CHECKING:
    from cel_expr_python import cel
    from ruamel.yaml.comments import CommentedMap

# A placeholder identifier, so a defaults entry validates as the part of a membership file it is.
_ANY_MEMBERSHIP = "00000000-0000-0000-0000-000000000000"
_NOT_SHAREABLE = ("membershipIdentifier", "collaborationIdentifier")  # one per file, by definition
_WILDCARD = re.compile(r"[*?\[]")

PolicyName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
# No backquote or line break: a glob is shown in plans, inside Markdown code.
Glob = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^[^`\r\n]+$")]


class PolicyModel(StrictModel):
    name: PolicyName = Field(description="Shown in every violation: `policy NAME: message`.")
    rule: str = Field(min_length=1, description="A CEL expression over `membership`; true means compliant.")
    message: str | None = Field(default=None, min_length=1, description="What a violation says.")


class DefaultsModel(StrictModel):
    paths: list[Glob] = Field(min_length=1, description="Globs relative to the desired-state directory.")
    settings: dict[str, Any] = Field(description="Membership settings laid under each matching file's own.")


class DriftModel(StrictModel):
    ignoreChangesBy: list[Glob] = Field(
        default_factory=list,
        description="Principal ARN globs whose changes are expected: still reported, but they open no drift issue "
        "and keep none open. Judged on who wrote the membership (CloudTrail), never on the value.",
    )


class ConfigModel(StrictModel):
    """reconciler.yaml. Every key is optional; an empty file changes nothing."""

    accounts: list[AccountId] | None = Field(
        default=None, description="Allow-list: a file whose accountId is not listed is invalid."
    )
    policies: list[PolicyModel] = Field(default_factory=list)
    defaults: list[DefaultsModel] = Field(default_factory=list)
    maxChangesPercent: int | None = Field(
        default=None, ge=0, le=100, description="apply refuses a larger share of >= 10 memberships unless --force."
    )
    drift: DriftModel | None = None


@dataclass(frozen=True)
class Policy:
    name: str
    rule: str
    message: str
    expression: cel.Expression
    # The settings the rule reads (`membership.a.b`), so a violation points at the offending key.
    reads: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class SharedDefaults:
    index: int
    paths: tuple[str, ...]
    settings: dict[str, Any]

    def label(self, pattern: str) -> str:
        return f"defaults[{self.index}] ({pattern})"

    def match(self, relative: str) -> str | None:
        """The most specific of this entry's globs that matches `relative`, if any."""
        found = [pattern for pattern, matcher in self._matchers if matcher.match(relative)]
        return max(found, key=specificity) if found else None

    @cached_property
    def leaves(self) -> frozenset[str]:
        """The dotted keys this entry sets, for telling whether two entries overlap (once, not per file)."""
        return frozenset(".".join(path) for path in leaf_paths(self.settings))

    @cached_property
    def _matchers(self) -> list[tuple[str, Any]]:
        # Compiled once: matching is per file, and a desired state may hold thousands.
        from wcmatch import glob

        return [(p, glob.compile(p, flags=glob.GLOBSTAR | glob.DOTGLOB)) for p in self.paths]


def specificity(pattern: str) -> tuple[int, int]:
    """More literal path segments, then more literal characters: `partners/acme/*.yaml` is more specific
    than `partners/**`, which is more specific than `**`."""
    parts = PurePosixPath(pattern).parts
    return sum(not _WILDCARD.search(p) and p != "**" for p in parts), len(_WILDCARD.sub("", pattern))


@dataclass(frozen=True)
class Guardrails:
    path: str
    accounts: frozenset[str] | None
    policies: tuple[Policy, ...]
    defaults: tuple[SharedDefaults, ...]
    max_changes_percent: int | None
    # drift.ignoreChangesBy: principal ARN globs whose writes are expected drift.
    ignore_changes_by: tuple[str, ...] = ()

    def layers(self, file: Path, base: Path) -> Layers:
        """The defaults that match `file` (its path relative to `base`), least specific first."""
        try:
            relative = file.relative_to(base).as_posix()  # discovered under base: no file system call
        except ValueError:
            try:
                relative = file.resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                relative = file.name
        matched = [(specificity(p), d, p) for d in self.defaults if (p := d.match(relative)) is not None]
        matched.sort(key=lambda m: (m[0], m[1].index))
        problems = []
        for i, (rank, one, pattern) in enumerate(matched):
            for other_rank, other, other_pattern in matched[i + 1 :]:
                shared = sorted(one.leaves & other.leaves) if other_rank == rank else []
                if shared:
                    problems.append(
                        f"{one.label(pattern)} and {other.label(other_pattern)} in {self.path} match this file "
                        f"equally specifically and both set {', '.join(shared)}: make one glob more specific"
                    )
        return Layers([(d.label(p), d.settings) for _, d, p in matched], problems)

    def findings(self, effective: Mapping[str, Any], account: str | None) -> list[tuple[tuple[str, ...], str, str]]:
        """What the allow-list and the policies say of one membership's effective settings, as (the key read,
        the field, the message); `account` is where it lives, when known: the settings' accountId, else the
        live membership's. Empty: it complies."""
        found: list[tuple[tuple[str, ...], str, str]] = []
        if self.accounts is not None and account is not None and account not in self.accounts:
            listed = ", ".join(sorted(self.accounts))
            if "accountId" in effective:
                message = f"account {account} is not in the accounts allow-list of {self.path} ({listed})"
            else:
                message = (
                    f"the membership is in account {account}, which {self.path}'s accounts allow-list does not list "
                    f"({listed}); the file names no accountId, so it reaches the caller's account"
                )
            found.append((("accountId",), "accountId", message))
        for policy in self.policies:
            outcome = _evaluate(policy, dict(effective))
            if outcome is not None:
                found.append((_offending(policy.reads, effective), f"policy {policy.name}", outcome))
        return found

    def refusals(self, effective: Mapping[str, Any], account: str | None) -> list[str]:
        """`findings` as lines, for a plan about to be written (a saved plan has no file lines to point at)."""
        return [f"{field}: {message}" for _key, field, message in self.findings(effective, account)]

    def check(self, loaded: DesiredFile, text: str) -> list[Problem]:
        """The allow-list and every policy, on the file's effective settings."""
        membership = loaded.membership
        found = self.findings(membership.model_dump(mode="json", exclude_none=True), membership.accountId)
        if not found:
            return []
        located, _ = parse_located(loaded.path, text)
        problems = []
        for key, field, message in found:
            line, col = locate(located, key) if located is not None and key else (1, 1)
            origin = loaded.origins.get(key[0]) if key else None
            suffix = f" (the value comes from {origin} in {self.path})" if origin else ""
            problems.append(Problem(loaded.path, line, col, field, message + suffix))
        return problems


def _evaluate(policy: Policy, effective: dict[str, Any]) -> str | None:
    """None when the file complies; else what to say. A rule that cannot be evaluated fails closed."""
    from cel_expr_python import cel

    try:
        value = policy.expression.eval(data={"membership": effective})
    except RuntimeError as error:
        return f"the rule could not be evaluated: {_cel_error(str(error))} (guard optional keys with has())"
    kind = value.type()
    if kind == cel.Type.ERROR:
        return f"the rule could not be evaluated: {_cel_error(str(value.value()))} (guard optional keys with has())"
    if kind != cel.Type.BOOL:
        return f"the rule gave {value.value()!r} ({kind.name()}), not true or false"
    return None if value.value() else policy.message


def _offending(reads: Sequence[tuple[str, ...]], effective: Mapping[str, Any]) -> tuple[str, ...]:
    """The deepest key the rule reads that the file has; () when it reads none (the file's first line)."""
    best: tuple[str, ...] = ()
    for path in reads:
        node: Any = effective
        depth = 0
        for part in path:
            if not isinstance(node, Mapping) or part not in node:
                break
            node, depth = node[part], depth + 1
        if depth > len(best):
            best = path[:depth]
    return best


# -- loading -------------------------------------------------------------------------------------------


def load_config(path: Path | None) -> tuple[Guardrails | None, list[Problem]]:
    if path is None:
        return None, []
    name = str(path)
    if not path.is_file():
        what = "no such file" if not path.exists() else "not a file"
        return None, [Problem(name, 1, 1, "", f"{what}: the organisation config (--config, {CONFIG_VARIABLE})")]
    _raw, text, problems = read_text(path)
    if text is None:
        return None, problems
    if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        return Guardrails(name, None, (), (), None), []  # an empty config (comments at most): nothing enforced
    located, problems = parse_located(name, text)
    if located is None:
        return None, [_config_problem(p) for p in problems]
    try:
        model = ConfigModel.model_validate(plain_data(located))
    except ValidationError as exc:
        return None, [validation_problem(name, located, err, ConfigModel) for err in exc.errors()]
    problems = []
    defaults = []
    for index, entry in enumerate(model.defaults):
        problems += _check_defaults(name, located, index, entry)
        defaults.append(SharedDefaults(index, tuple(entry.paths), entry.settings))
    policies = []
    if model.policies and not _cel_installed():
        # Never a config whose policies are silently not checked: without CEL, nothing runs.
        line, col = locate(located, ("policies",))
        message = "CEL, which policies need, is not installed: pip install 'cleanrooms-reconciler[policies]'"
        return None, [*problems, Problem(name, line, col, "policies", message)]
    for index, spec in enumerate(model.policies):
        compiled = _compile(name, located, index, spec)
        if isinstance(compiled, Problem):
            problems.append(compiled)
        else:
            policies.append(compiled)
    problems += _duplicate_names(name, located, model.policies)
    if problems:
        return None, problems
    accounts = frozenset(model.accounts) if model.accounts is not None else None
    ignored = tuple(model.drift.ignoreChangesBy) if model.drift is not None else ()
    return Guardrails(name, accounts, tuple(policies), tuple(defaults), model.maxChangesPercent, ignored), []


def _config_problem(problem: Problem) -> Problem:
    if problem.message.startswith("the top level must be a mapping"):
        message = problem.message.replace("of settings", "(accounts, policies, defaults, maxChangesPercent)")
        return Problem(problem.path, problem.line, problem.col, problem.field, message)
    return problem


def _check_defaults(name: str, located: CommentedMap, index: int, entry: DefaultsModel) -> list[Problem]:
    at = ("defaults", index)
    problems = []
    for i, pattern in enumerate(entry.paths):
        pure = PurePosixPath(pattern)
        if pure.is_absolute() or ".." in pure.parts or "\\" in pattern:
            line, col = locate(located, (*at, "paths", i), point_at_key=False)
            message = "a glob relative to the desired-state directory, like partners/**; got " + repr(pattern)
            problems.append(Problem(name, line, col, f"defaults.{index}.paths.{i}", message))
    for key in _NOT_SHAREABLE:
        if key in entry.settings:
            line, col = locate(located, (*at, "settings", key))
            problems.append(Problem(name, line, col, f"defaults.{index}.settings.{key}", "is one per file, not shared"))
    try:
        DesiredMembership.model_validate({**entry.settings, "membershipIdentifier": _ANY_MEMBERSHIP})
    except ValidationError as exc:
        # A shared default is part of a file: a required key it leaves out is the files' to give.
        for err in exc.errors():
            if err["type"] != "missing" and err["loc"][:1] not in (
                ("membershipIdentifier",),
                ("collaborationIdentifier",),
            ):
                problems.append(validation_problem(name, located, err, DesiredMembership, (*at, "settings")))
    return problems


def _cel_installed() -> bool:
    """Whether the `policies` extra (cel-expr-python) is installed; a run with no policies never asks."""
    try:
        import cel_expr_python  # noqa: F401
    except ImportError:
        return False
    return True


def _compile(name: str, located: CommentedMap, index: int, spec: PolicyModel) -> Policy | Problem:
    from cel_expr_python import cel

    try:
        expression = _environment().compile(spec.rule)
        returns = expression.return_type()
    except RuntimeError as error:
        line, col = locate(located, ("policies", index, "rule"), point_at_key=False)
        return Problem(name, line, col, f"policies.{index}.rule", f"does not compile: {_cel_error(str(error))}")
    if returns not in (cel.Type.BOOL, cel.Type.DYN):
        line, col = locate(located, ("policies", index, "rule"), point_at_key=False)
        message = f"must give true or false; this rule gives {returns.name()}"
        return Problem(name, line, col, f"policies.{index}.rule", message)
    message = spec.message or f"the rule {spec.rule!r} is false for this membership"
    return Policy(spec.name, spec.rule, message, expression, _reads(spec.rule))


def _duplicate_names(name: str, located: CommentedMap, policies: Sequence[PolicyModel]) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for index, policy in enumerate(policies):
        if policy.name in seen:
            line, col = locate(located, ("policies", index, "name"), point_at_key=False)
            message = f"policy {policy.name!r} is also policies[{seen[policy.name]}]; names identify violations"
            problems.append(Problem(name, line, col, f"policies.{index}.name", message))
        seen.setdefault(policy.name, index)
    return problems


# `membership.a.b` and its optional form `membership.?a.?b`.
_READ = re.compile(r"\bmembership((?:\.\??[A-Za-z_][A-Za-z0-9_]*)+)")


def _reads(rule: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(match.group(1).replace("?", "").strip(".").split(".")) for match in _READ.finditer(rule))


class _Environment:
    """One CEL environment, built on first use: `membership` is a map of the file's settings (dyn values,
    since a file's keys are known only per file). The checker still refuses unknown names, functions
    applied to the wrong types, and rules that cannot give a bool."""

    @cached_property
    def env(self) -> cel.Env:
        from cel_expr_python import cel
        from cel_expr_python.ext import ext_optional, ext_strings

        # Optional values (`membership.?a.b.orValue('')`) reach into settings a file may leave out without a
        # chain of has(); the strings extension adds lowerAscii, split, replace and the like. Both are what
        # Kubernetes' CEL offers.
        return cel.NewEnv(
            variables={"membership": cel.Type.Map(cel.Type.STRING, cel.Type.DYN)},
            extensions=[ext_optional.ExtOptional(), ext_strings.ExtStrings()],
        )


_ENV = _Environment()


def _environment() -> cel.Env:
    return _ENV.env


def _cel_error(message: str) -> str:
    # cel-cpp's message: "INVALID_ARGUMENT: ERROR: <input>:1:26: Syntax error: ... | source | ^": the first line
    # names the column within the rule; the source and caret lines repeat the rule.
    first = message.strip().splitlines()[0] if message.strip() else message
    first = re.sub(r"^[A-Z_]+: (ERROR: )?", "", re.sub(r" \[[A-Z_]+\]$", "", first))  # the status code
    return re.sub(r"^<input>:(\d+):(\d+): ", r"at column \2 of the rule: ", first)


def config_json_schema() -> dict[str, Any]:
    schema = ConfigModel.model_json_schema(schema_generator=NoNullJsonSchema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Clean Rooms reconciler organisation config (reconciler.yaml)",
        **{k: v for k, v in schema.items() if k != "title"},
    }
