"""`targets`: the account/region pairs the desired state covers (the workflows' matrix)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from ..core.api import DEFAULT_ACCOUNT, Where
from ..core.errors import PlanHasErrors
from ..core.planner import resolve_regions
from .runtime import Runtime
from .validate import load_desired


def targets(runtime: Runtime, path: Path, memberships: Collection[str] = ()) -> list[Where]:
    """The account/region pairs the desired state covers, in a stable order; with `memberships`, the pairs of
    the files that name them."""
    return named_targets(runtime, path, memberships)[0]


def named_targets(runtime: Runtime, path: Path, memberships: Collection[str]) -> tuple[list[Where], list[str]]:
    """`targets`, and of `memberships` those no file names (by membership id, or by collaboration id for a
    file that names its collaboration), from one load of the desired state."""
    files = load_desired(path, runtime.guardrails())
    unnamed = sorted(set(memberships) - {i for f in files for i in f.names})
    if memberships:
        files = [f for f in files if f.names & set(memberships)]
    resolved, errors = resolve_regions(files, runtime.default_region())
    if errors:
        raise PlanHasErrors(f"{len(errors)} file(s) have no region", [f"error: {error}" for error in errors])
    return sorted({r.where for r in resolved}, key=lambda where: where.label), unnamed


def github_matrix(found: list[Where]) -> dict[str, list[dict[str, str]]]:
    """A workflow matrix of account/region pairs: `{"include": [{account, region, target}, ...]}`."""
    return {
        "include": [{"account": w.account or DEFAULT_ACCOUNT, "region": w.region, "target": w.label} for w in found]
    }
