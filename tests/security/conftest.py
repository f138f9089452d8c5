"""Fixtures of the security tests: an app with anonymous access on or off, keys of every
status in its store (``securitykit``), and Redis DB 8, which only these tests flush.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import redis
from securitykit import REDIS_URL, Served, serve

from config import Settings


@pytest.fixture
def keyed(seeded_settings: Settings) -> Iterator[Served]:
    """``FLIGHTDATA_ANONYMOUS=false``: every protected request needs a key."""
    yield from serve(dataclasses.replace(seeded_settings, anonymous=False))


@pytest.fixture
def open_api(seeded_settings: Settings) -> Iterator[Served]:
    """The embedded default: anonymous access on."""
    yield from serve(seeded_settings)


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"the security tests need redis-server at {REDIS_URL}: {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
