"""Fixtures of the workflow stories: a fake GitHub and a repository to run the workflows in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.sandbox import CleanRoomsSandbox

from ..fakegithub import FakeGitHub, running
from .harness import OWNER_REPO, Repository


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with running(repository=OWNER_REPO) as fake:
        yield fake


@pytest.fixture
def repository(tmp_path: Path, sandbox: CleanRoomsSandbox, github: FakeGitHub) -> Repository:
    return Repository.create(tmp_path, sandbox, github)
