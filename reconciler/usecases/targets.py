"""`targets`: the account/region pairs the desired state covers (the workflows' matrix)."""

from __future__ import annotations

from pathlib import Path

from ..core.api import DEFAULT_ACCOUNT, Where
from ..core.errors import PlanHasErrors
from ..core.planner import resolve_regions
from .runtime import Runtime
from .validate import load_desired


def targets(runtime: Runtime, path: Path) -> list[Where]:
    """The account/region pairs the desired state covers, in a stable order."""
    resolved, errors = resolve_regions(load_desired(path, runtime.guardrails()), runtime.default_region())
    if errors:
        raise PlanHasErrors(f"{len(errors)} file(s) have no region", [f"error: {error}" for error in errors])
    return sorted({r.where for r in resolved}, key=lambda where: where.label)


def github_matrix(found: list[Where]) -> dict[str, list[dict[str, str]]]:
    """A workflow matrix of account/region pairs: `{"include": [{account, region, target}, ...]}`."""
    return {
        "include": [{"account": w.account or DEFAULT_ACCOUNT, "region": w.region, "target": w.label} for w in found]
    }
