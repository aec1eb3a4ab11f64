"""Declarative GitOps reconciler for AWS Clean Rooms membership settings."""

# The one place the version lives (pyproject reads it): importlib.metadata would add ~40 ms to start-up.
__version__ = "0.1.0"
