"""Cache-aside over the repositories, with a real Redis in front of the SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from testredis import redis_url

from config import Settings
from domain import BoundingBox
from domain.events import FlightDataProcessed
from ingestion.replay import ReplaySource
from runtime.ingest import build_pipeline
from runtime.stores import open_stores
from storage.base import FlightFilter
from storage.stores import Stores

REDIS_URL = redis_url(12)


@pytest.fixture
def redis_stores(seeded_settings: Settings) -> Iterator[Stores]:
    stores = open_stores(replace(seeded_settings, redis_url=REDIS_URL))
    assert stores.redis is not None
    assert stores.cache is not None
    try:
        stores.redis.flushdb()
    except Exception as exc:  # a missing Redis must fail the test, not skip it
        pytest.fail(f"these tests need redis-server at {REDIS_URL}: {exc}")
    yield stores
    stores.redis.flushdb()
    stores.close()


def test_pages_come_from_the_cache_until_a_cycle_stores(redis_stores: Stores) -> None:
    source = ReplaySource()
    pipeline = build_pipeline(Settings.from_env({}), redis_stores, None)
    pipeline.process(source.name, source.advance(), source.normalise)
    cache = redis_stores.cache
    assert cache is not None
    europe = FlightFilter(bbox=BoundingBox(34, -25, 72, 45))

    first = redis_stores.flights.search_latest(europe, first=100)
    again = redis_stores.flights.search_latest(europe, first=100)
    assert (cache.misses, cache.hits) == (1, 1)
    assert again == first
    assert again.items[0].source == first.items[0].source

    cache.on_event(
        FlightDataProcessed(
            source="replay", cycle_id="c", received=1, stored=1, rejected=0, duplicates=0
        )
    )
    redis_stores.flights.search_latest(europe, first=100)
    assert cache.misses == 2


def test_reads_of_every_aircraft_bypass_the_cache(redis_stores: Stores) -> None:
    redis_stores.flights.search_latest(FlightFilter(), first=10_000_000)
    assert redis_stores.cache is not None
    assert (redis_stores.cache.misses, redis_stores.cache.hits) == (0, 0)


def test_airports_by_code_are_cached(redis_stores: Stores) -> None:
    heathrow = redis_stores.airports.by_icao("EGLL")
    assert redis_stores.airports.by_icao("EGLL") == heathrow
    assert redis_stores.airports.by_icao("ZZZZ") is None
    assert redis_stores.cache is not None
    assert redis_stores.cache.hits == 1


def test_health_says_degraded_when_redis_goes_away(seeded_settings: Settings) -> None:
    stores = open_stores(replace(seeded_settings, redis_url="redis://127.0.0.1:1/0"))
    try:
        page = stores.flights.search_latest(FlightFilter(), first=10)
        assert page.total_count == 0  # answered by the store
        assert stores.airports.by_icao("EGLL") is not None
        assert "cache" in stores.degraded()
    finally:
        stores.close()
