"""The Shell: one run of the CLI, with the environment it prints to and the runtime its commands share."""

from __future__ import annotations

import itertools
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from ..core.environment import Environment
from ..core.errors import UsageError
from ..core.escape import printable, terminal_line
from ..usecases.runtime import Advance, Runtime

if TYPE_CHECKING:
    from ..core import render
    from ..core.plan import Plan
    from ..edges.github.rest import GitHub


@dataclass
class Shell:
    """One run of the CLI: the environment it prints to and the runtime its commands share.

    Every line goes out through `escape.terminal_line`, so no text from outside (a file name, a YAML key, a
    collaboration name, an AWS message) can move the cursor, write the clipboard or start a workflow
    command. Colour is the one exception, and only ours: `style` marks text with a secret this run chose, and
    only those marks become colour codes once the line is escaped."""

    env: Environment
    runtime: Runtime
    _secret: str = field(default_factory=lambda: os.urandom(8).hex())

    def out(self, text: str = "", nl: bool = True) -> None:
        click.echo(self._shown(text), file=self.env.stdout, nl=nl, color=self.env.colour)

    def err(self, text: str) -> None:
        click.echo(self._shown(text), file=self.env.stderr, color=False)

    def command(self, line: str) -> None:
        """A workflow command of ours (`::error file=…::…`), its values escaped by actions.py."""
        click.echo(line, file=self.env.stdout)

    def style(self, text: str, colour: str) -> str:
        if not self.env.colour:
            return text
        return f"\ue000{self._secret}:{colour}\ue001{text}\ue000{self._secret}:\ue001"

    def _shown(self, text: str) -> str:
        return re.sub(
            f"\ue000{self._secret}:([a-z]*)\ue001",
            lambda mark: _sgr(mark.group(1)),
            terminal_line(text),
        )

    def emit(
        self, plan: Plan, fmt: str, words: render.Words | None = None, limit: int | None = None, summary: bool = True
    ) -> None:
        """Print a plan; in a workflow run, also add it to the job summary (`summary`: unless it is a report
        shown again, which the job that made it has already added)."""
        from ..core import render
        from ..edges.github import actions

        github = self.env.github
        link = actions.source_link(github)
        words = words or render.PLAN
        limit = render.MARKDOWN_LIMIT if limit is None else limit or None
        self.out(render.render(plan, fmt, self.style, link, words, limit, github.run_url), nl=False)
        if summary and github.step_summary:
            # Only in a run with a job summary: the Markdown costs ~0.1 s at 1,000 memberships.
            self.warn(actions.append_summary(github, render.markdown(plan, link, words, more=github.run_url)))

    def github(self) -> GitHub:
        """The GitHub edge for the repository this run is in; a usage error outside a workflow's variables."""
        from ..edges.github.rest import GitHub

        context = self.env.github
        if not context.token or not context.repository:
            raise UsageError("GITHUB_TOKEN and GITHUB_REPOSITORY must be set (a workflow run sets them)")
        from .. import __version__

        api_url = context.api_url or "https://api.github.com"
        return GitHub(api_url, context.token, context.repository, context.user_agent(__version__))

    def warn(self, warning: str | None) -> None:
        if warning is not None:
            self.err(printable(warning))

    def errors(self, messages: Sequence[str]) -> None:
        for message in messages:
            self.err(printable(f"error: {message}"))

    @contextmanager
    def progress(self, total: int, label: str) -> Iterator[Advance]:
        """A progress bar on stderr when it is a terminal; otherwise (a CI log) a line every 10 s while the
        work lasts, so a long wait (backoff, a rate limit, a slow endpoint) shows life, and a quick run
        prints nothing."""
        if total == 0:
            yield lambda: None
            return
        if not self.env.stderr_isatty:
            with self._heartbeat(total, label) as advance:
                yield advance
            return
        from rich.console import Console
        from rich.progress import Progress

        with Progress(transient=True, console=Console(file=self.env.stderr)) as bar:
            task = bar.add_task(label, total=total)
            yield lambda: bar.advance(task)

    @contextmanager
    def _heartbeat(self, total: int, label: str) -> Iterator[Advance]:
        done = itertools.count(1)
        finished = [0]
        stop = threading.Event()

        def advance() -> None:
            finished[0] = next(done)  # count() is atomic under the GIL; workers call this concurrently

        def beat() -> None:
            while not stop.wait(HEARTBEAT_SECONDS):
                self.err(f"{label}: {finished[0]} of {total} done; still working")

        thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
        thread.start()
        try:
            yield advance
        finally:
            stop.set()
            thread.join()


HEARTBEAT_SECONDS = 10.0


def _sgr(name: str) -> str:
    """The escape sequence that starts colour `name` ("bold" too), or that resets it ("")."""
    if not name:
        return "\x1b[0m"
    return click.style("", bold=True, reset=False) if name == "bold" else click.style("", fg=name, reset=False)
