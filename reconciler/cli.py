"""The command line: parses options, calls the core, prints, and maps outcomes to exit codes.

The only module that prints or exits.
"""

from __future__ import annotations

import json
import sys
from enum import IntEnum
from pathlib import Path

import click

from . import __version__
from .desired import load
from .models import desired_json_schema


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    CHANGES = 2


DEFAULT_PATH = Path("desired-state")
path_argument = click.argument("path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option("--region", help="AWS region for files that do not name one (else the AWS config).")
@click.option("--profile", help="AWS profile to use.")
@click.option(
    "--parallelism", type=click.IntRange(1, 64), default=8, show_default=True, help="Concurrent API calls."
)
@click.option("-v", "--verbose", count=True, help="More detail (retries, timings).")
@click.pass_context
def cli(ctx: click.Context, region: str | None, profile: str | None, parallelism: int, verbose: int) -> None:
    """Reconcile AWS Clean Rooms membership settings with desired state kept in git."""
    ctx.obj = {"region": region, "profile": profile, "parallelism": parallelism, "verbose": verbose}


@cli.command()
@path_argument
def validate(path: Path) -> None:
    """Check every desired-state file; report all problems. Makes no AWS call."""
    result = load(path)
    for problem in result.problems:
        click.echo(str(problem))
    if result.problems:
        click.echo(f"{len(result.problems)} problem(s) in {path}", err=True)
        sys.exit(ExitStatus.ERROR)
    click.echo(f"{len(result.files)} membership file(s) valid in {path}")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of a desired-state file."""
    click.echo(json.dumps(desired_json_schema(), indent=2))


def main() -> None:
    cli(prog_name="reconciler")
