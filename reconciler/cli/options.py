"""Options several commands share, and the parsers that refuse a bad value as a usage error before any
command runs."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..core.api import Where
from ..core.retry import DEFAULT_BASE_DELAY, DEFAULT_DEADLINE, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_DELAY
from .shell import Shell

if TYPE_CHECKING:
    from ..core.plan import Selection

FC = TypeVar("FC", bound=Callable[..., Any])


DEFAULT_PATH = Path("desired-state")


FORMATS = click.Choice(["text", "markdown", "json"])


def retry_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--max-attempts, --retry-base-delay, --retry-max-delay, --retry-deadline: every command that calls AWS.

    They set the runtime's retry policy directly, so commands never see them."""

    def setter(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
        def store(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
            if isinstance(value, float) and not math.isfinite(value):
                raise click.BadParameter(f"'{value}' is not a finite number of seconds")
            runtime = ctx.find_object(Shell).runtime  # type: ignore[union-attr]
            runtime.settings = replace(runtime.settings, policy=replace(runtime.settings.policy, **{name: value}))

        return store

    options = [
        ("--max-attempts", "max_attempts", click.IntRange(1, 100), DEFAULT_MAX_ATTEMPTS, "Attempts per call."),
        (
            "--retry-base-delay",
            "base_delay",
            click.FloatRange(0),
            DEFAULT_BASE_DELAY,
            "Backoff base in seconds (full jitter: uniform(0, min(max, base * 2**n))).",
        ),
        ("--retry-max-delay", "max_delay", click.FloatRange(0), DEFAULT_MAX_DELAY, "Backoff cap in seconds."),
        (
            "--retry-deadline",
            "deadline",
            click.FloatRange(0),
            DEFAULT_DEADLINE,
            "Seconds one call may spend retrying; throttling (429) spends time here, not attempts.",
        ),
    ]
    for flag, name, kind, default, help_text in reversed(options):
        command = click.option(
            flag,
            type=kind,
            default=default,
            show_default=True,
            envvar="RECONCILER_" + flag.removeprefix("--").replace("-", "_").upper(),
            help=help_text,
            expose_value=False,
            callback=setter(name),
        )(command)
    return command


def parse_where(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Where | None:
    try:
        return None if value is None else Where.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def parse_limit(_ctx: click.Context, _param: click.Parameter, value: int | None) -> int | None:
    from ..core.render import MIN_MARKDOWN_LIMIT

    if value is not None and 0 < value < MIN_MARKDOWN_LIMIT:
        raise click.BadParameter(f"{value}: 0 (no limit) or at least {MIN_MARKDOWN_LIMIT} characters")
    return value


markdown_limit_option = click.option(
    "--markdown-limit",
    type=click.IntRange(0),
    callback=parse_limit,
    default=None,
    metavar="CHARS",
    help="Most characters of --format markdown [default: 65536, GitHub's limit for a comment; 0: no limit].",
)


def parse_hash(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"sha256:[0-9a-f]{64}", value):
        raise click.BadParameter(f"{value!r}: expected sha256: and 64 lower-case hex digits (a plan's changesHash)")
    return value


def parse_commit(value: str | None) -> str | None:
    """A full commit id: it goes into a hidden marker, so nothing else may."""
    if value is not None and not re.fullmatch(r"[0-9a-f]{40}", value):
        raise click.BadParameter(f"{value!r}: expected a commit's 40 lower-case hex digits")
    return value


path_argument = click.argument("path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path))


_MEMBERSHIP_ARN = re.compile(r"arn:aws[a-z-]*:cleanrooms:[a-z0-9-]+:\d{12}:membership/([^/:\s]+)")


def parse_memberships(_ctx: click.Context, _param: click.Parameter, values: Sequence[str]) -> tuple[str, ...]:
    """Membership ids, or their ARNs (what an EventBridge event's `resources` holds) taken to their ids."""
    return tuple(m.group(1) if (m := _MEMBERSHIP_ARN.fullmatch(v)) else v for v in values)


def membership_option(help_text: str = "Only this membership (repeatable; an id or its ARN).") -> Callable[[FC], FC]:
    return click.option(
        "--membership", "memberships", multiple=True, metavar="ID", callback=parse_memberships, help=help_text
    )


target_option = click.option(
    "--target",
    metavar="ACCOUNT/REGION",
    callback=parse_where,
    help="Only files of this account and region (`default/REGION`: files without accountId).",
)


def selection(memberships: Sequence[str], target: Where | None) -> Selection:
    from ..core.plan import Selection

    return Selection(frozenset(memberships), target)
