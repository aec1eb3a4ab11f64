"""The one place that turns results and errors into exit statuses (`main()` only exits with it): usage errors
exit 1, never 2, which means changes or drift; Ctrl-C exits 130; no error prints a traceback."""

from __future__ import annotations

import io
import os
import signal
import sys
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout

import click

from ..core.environment import Environment
from ..core.errors import ExitStatus, InvalidDesiredState, ReconcilerError, Terminated
from ..core.escape import printable, terminal_line
from .app import cli


def run(args: Sequence[str], env: Environment) -> int:
    """Run the CLI with `args` in `env`; the exit status. Every exception is mapped here and nowhere else."""
    try:
        # click writes help, version and prompts to sys.stdout itself: point it at the environment's streams.
        with redirect_stdout(env.stdout), redirect_stderr(env.stderr):
            result = cli.main(list(args), prog_name="reconciler", standalone_mode=False, obj=env)
    except click.exceptions.Abort as abort:
        # click turns Ctrl-C (and EOF at a prompt) into Abort.
        if isinstance(abort.__context__, KeyboardInterrupt):
            click.echo("\ninterrupted", file=env.stderr)
            return ExitStatus.INTERRUPTED
        click.echo("error: no answer; nothing was changed", file=env.stderr)
        return ExitStatus.ERROR
    except KeyboardInterrupt:
        click.echo("\ninterrupted", file=env.stderr)
        return ExitStatus.INTERRUPTED
    except Terminated as exc:
        _err(env, f"error: {exc.message}")
        return ExitStatus.ERROR
    except click.ClickException as exc:
        # A usage error exits 1: 2 means "changes" or "drift" to scripts and CI.
        shown = io.StringIO()
        exc.show(file=shown)
        _err(env, shown.getvalue().removesuffix("\n"))
        return ExitStatus.ERROR
    except InvalidDesiredState as exc:
        from ..edges.github import actions

        for line in exc.details:
            _err(env, printable(line))
        for line in actions.error_annotations(env.github, exc.problems):
            click.echo(line, file=env.stdout)
        _err(env, printable(f"error: {exc.message}"))
        return ExitStatus.ERROR
    except ReconcilerError as exc:
        for line in exc.details:
            _err(env, printable(line))
        _err(env, printable(f"error: {exc.message}"))
        return ExitStatus.ERROR
    except Exception as exc:  # a bug: one line, never a traceback, and still exit 1
        _err(env, printable(f"error: unexpected {type(exc).__name__}: {exc} (this is a bug in reconciler)"))
        return ExitStatus.ERROR
    return ExitStatus.OK if result is None else int(result)


def _err(env: Environment, line: str) -> None:
    click.echo(terminal_line(line), file=env.stderr)


def main() -> None:
    # pydantic looks for plugins by scanning every installed distribution's entry points when it builds
    # the first model (~25 ms, more in a large environment); the CLI uses none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(run(sys.argv[1:], Environment.from_os()))


def _terminate(signum: int, _frame: object) -> None:
    # Outside apply's write phase (which installs its own handler): end now, through `run`, with a message
    # and, for apply, a receipt; the reads not started are dropped.
    raise Terminated(signal.Signals(signum).name)
