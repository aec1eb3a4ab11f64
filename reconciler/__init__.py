"""Declarative GitOps reconciler for AWS Clean Rooms membership settings."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cleanrooms-reconciler")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
