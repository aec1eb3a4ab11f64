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
from ..core.errors import ConfigurationError
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
    config: Path | None = None  # reconciler.yaml, when there is one (config.config_path)


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
            from botocore.exceptions import BotoCoreError

            from ..edges.aws.breaker import Breaker
            from ..edges.aws.client import AwsGateway, make_session
            from ..edges.aws.ratelimit import LimitedGateway, RateController

            try:
                session = make_session(self.settings.profile, self.settings.region)
            except BotoCoreError as exc:
                raise ConfigurationError(f"AWS configuration: {exc}") from exc
            aws = AwsGateway(
                session,
                max_connections=self.settings.parallelism,
                assume_role_template=self.settings.assume_role_template,
            )
            cap = self.settings.parallelism
            # The breaker inside the pacing: a call that waited for its turn is checked when its turn comes, so
            # once the endpoint is found dead, the queued calls end at once instead of each timing out.
            self._gateway = LimitedGateway(Breaker(aws), lambda: RateController(max_concurrency=cap))
            self._session_region = session.region_name
        return self._gateway

    def guardrails(self) -> ConfigResult:
        """reconciler.yaml, loaded once (its policies compiled) for every command that loads files."""
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
