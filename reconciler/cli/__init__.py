"""The command line."""

from .commands import cli, main, run

__all__ = ["cli", "main", "run"]
