"""`validate`: every desired-state file against the schema and reconciler.yaml, with no AWS call. It loads
only the files (no reader, applier or boto3), since it runs on every pull request before anything else."""

from __future__ import annotations

from pathlib import Path

from ..core.desired import DesiredFile, LoadResult, load
from ..core.errors import ExitStatus, InvalidDesiredState, NothingSelected
from .runtime import ConfigResult


def validate(path: Path, config: ConfigResult = (None, [])) -> LoadResult:
    """Every file under `path`, with reconciler.yaml's guardrails; a config with problems stops here, since
    every file would be judged by rules that do not hold."""
    guardrails, problems = config
    if problems:
        return LoadResult([], problems)
    result = load(path, guardrails)
    _require_files(result, path)
    return result


def _require_files(result: LoadResult, path: Path) -> None:
    if not result.files and not result.problems:
        # Terraform's "No configuration files": an empty scope is a mistake, never "no changes".
        raise NothingSelected(f"no membership files (*.yaml, *.yml) under {path}")


def validate_status(result: LoadResult) -> ExitStatus:
    return ExitStatus.ERROR if result.problems else ExitStatus.OK


def load_desired(path: Path, config: ConfigResult = (None, [])) -> list[DesiredFile]:
    """Every file, valid; any problem stops the command before the first AWS call."""
    result = validate(path, config)
    if result.problems:
        raise InvalidDesiredState(result.problems)
    return result.files
