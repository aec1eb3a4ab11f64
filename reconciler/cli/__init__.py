"""The command line: app.py the `reconciler` group, commands.py and github.py its commands, shell.py what
they print through, options.py what they share, exits.py the one mapping from errors to exit statuses."""

from .app import cli
from .exits import main, run

__all__ = ["cli", "main", "run"]
