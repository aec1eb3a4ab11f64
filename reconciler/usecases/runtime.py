"""What every command that calls AWS shares: the global options, the gateway (made on first use), the
retry policy, and how it reports retries and progress. Built once by the CLI; tests pass their own gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.api import AwsError, Gateway
from ..core.retry import Retrier, Retry, RetryPolicy

if TYPE_CHECKING:
    from ..core.config import Guardrails
    from ..core.documents import Problem

# reconciler.yaml as loaded: the guardrails, or the problems that stop every command.
ConfigResult = tuple["Guardrails | None", "list[Problem]"]

Advance = Callable[[], None]
# progress(total, label) -> a context whose value is called once per finished item.
Progress = Callable[[int, str], AbstractContextManager[Advance]]
Notify = Callable[[str], None]

DEFAULT_PARALLELISM = 32


@contextmanager
def no_progress(_total: int, _label: str) -> Iterator[Advance]:
    yield lambda: None


def _silent(_message: str) -> None:
    return None


@dataclass(frozen=True)
class Settings:
    region: str | None = None
    profile: str | None = None
    parallelism: int = DEFAULT_PARALLELISM
    verbose: int = 0
    assume_role_template: str | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    config: Path | None = None  # reconciler.yaml, when there is one (environment.config_path)


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        gateway: Gateway | None = None,
        notify: Notify = _silent,
        progress: Progress = no_progress,
    ) -> None:
        self.settings = settings
        self.notify = notify
        self.progress = progress
        self._gateway = gateway
        self._session_region: str | None = None
        self._config: ConfigResult | None = None

    @property
    def parallelism(self) -> int:
        return self.settings.parallelism

    def gateway(self) -> Gateway:
        if self._gateway is None:
            # Imported here so `validate`, `schema` and `--help` never load boto3.
            from ..edges.aws.client import connect

            s = self.settings
            self._gateway, self._session_region = connect(
                s.profile, s.region, s.parallelism, s.assume_role_template, s.policy.deadline
            )
        return self._gateway

    def guardrails(self) -> ConfigResult:
        """reconciler.yaml, loaded once (its policies compiled) for every command that loads files."""
        if self._config is None and self.settings.config is None:
            self._config = (None, [])
        if self._config is None:
            from ..core.config import load_config

            self._config = load_config(self.settings.config)
        return self._config

    def default_region(self) -> str | None:
        """--region, else the AWS configuration's region."""
        self.gateway()
        return self.settings.region or self._session_region

    def retrier(self) -> Retrier:
        return Retrier(self.settings.policy, on_retry=self._log_retry)

    def _log_retry(self, error: AwsError, kind: Retry, attempt: int | None, delay: float) -> None:
        if self.settings.verbose:
            target = f" {error.membership_id}" if error.membership_id else ""
            reason = f", {error.reason}" if error.reason else ""
            count = "" if attempt is None else f" {attempt}/{self.settings.policy.max_attempts}"
            spent = ", no attempt spent" if attempt is None else ""
            self.notify(
                f"retry{count} {error.operation}{target}: {kind.value} ({error.code}{reason}){spent}; "
                f"waiting {delay:.2f}s"
            )
