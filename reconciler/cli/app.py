"""The `reconciler` group: the global options, and every command registered under it."""

from __future__ import annotations

from pathlib import Path

import click

from .. import __version__
from ..core.environment import Environment, config_path
from ..core.errors import UsageError
from ..usecases.runtime import DEFAULT_PARALLELISM, Runtime, Settings
from . import commands, github
from .shell import Shell


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option("--region", help="AWS region for files that do not name one (else the AWS config).")
@click.option("--profile", help="AWS profile to use.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=DEFAULT_PARALLELISM,
    show_default=True,
    help="Concurrent calls.",
)
@click.option("-v", "--verbose", count=True, help="More detail (retries, timings).")
@click.option(
    "--assume-role-template",
    metavar="ARN",
    envvar="RECONCILER_ASSUME_ROLE_TEMPLATE",
    help="Role to assume per account, e.g. arn:aws:iam::{accountId}:role/cleanrooms-reconciler.",
)
@click.option(
    "--config",
    metavar="FILE",
    type=click.Path(path_type=Path, dir_okay=True),
    help="The organisation config (else $RECONCILER_CONFIG, else ./reconciler.yaml when present).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    region: str | None,
    profile: str | None,
    parallelism: int,
    verbose: int,
    assume_role_template: str | None,
    config: Path | None,
) -> None:
    """Reconcile AWS Clean Rooms membership settings with desired state kept in git."""
    if assume_role_template is not None:
        try:
            formatted = assume_role_template.format(accountId="{accountId}")
        except (KeyError, IndexError, ValueError) as exc:
            raise UsageError(
                "--assume-role-template takes only {accountId} between braces (a literal brace is {{ or }}): "
                f"{assume_role_template!r}"
            ) from exc
        if "{accountId}" not in formatted:
            raise UsageError("--assume-role-template must contain {accountId}")
    env: Environment = ctx.obj
    config = config_path(config, env.variables)
    settings = Settings(region, profile, parallelism, verbose, assume_role_template, config=config)
    shell = Shell(env, Runtime(settings))
    shell.runtime.notify, shell.runtime.progress = shell.err, shell.progress
    ctx.obj = shell


for command in (
    commands.validate,
    commands.schema,
    commands.plan,
    commands.apply,
    commands.drift,
    commands.adopt,
    commands.targets,
    commands.import_,
    commands.render_,
    commands.demo,
    github.github_group,
):
    cli.add_command(command)
