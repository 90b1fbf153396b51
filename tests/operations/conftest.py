"""Fixtures of the operations tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.private_pg import PrivateServer, private_server


@pytest.fixture
def private_pg() -> Iterator[PrivateServer]:
    """A PostgreSQL server of this test's own (restarted and stopped by it)."""
    with private_server() as server:
        yield server
