"""Fixtures for the ingestion tests: the fake upstream server (``tests/upstream.py``).

``fake_upstream_server`` is started once per session (it starts in milliseconds);
``fake_upstream`` is the same server cleared back to its defaults for each test, so tests
can queue faults freely.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from upstream import FakeUpstream


@pytest.fixture(scope="session")
def fake_upstream_server() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def fake_upstream(fake_upstream_server: FakeUpstream) -> FakeUpstream:
    """The shared fake upstream with default routes, no faults and no recorded requests."""
    fake_upstream_server.clear()
    return fake_upstream_server
