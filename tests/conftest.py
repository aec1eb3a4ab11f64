"""Shared fixtures: one local Clean Rooms endpoint per session, reset for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.sandbox import CleanRoomsSandbox


@pytest.fixture(scope="session")
def _server() -> Iterator[CleanRoomsSandbox]:
    with CleanRoomsSandbox(seed=1234) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(_server: CleanRoomsSandbox) -> Iterator[CleanRoomsSandbox]:
    _server.reset()
    yield _server
    _server.reset()
