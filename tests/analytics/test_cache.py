"""Analytics answers in the response cache, against a real redis-server (DB 14, flushed
before each test): ``analytics:{type}:{timerange}:{hash}`` keys, 30 s, retired by newer data."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from recorded_day import DAY, RecordedDay
from testredis import redis_url

from analytics.daily import DailyDocuments
from analytics.engine import Engine, FlightsEngine, Relation
from analytics.files import LocalObjects, LocalProcessed
from analytics.live import LiveSnapshots
from analytics.live_figures import StatesEngine
from analytics.params import DEFAULT_BUCKET_M, window
from analytics.service import (
    AnalyticsService,
    build_service,
    live_figures,
    live_snapshots,
)
from config import Settings
from runtime.stores import open_stores
from storage.redis import connect
from storage.redis.cache import ResponseCache
from storage.stores import Stores
from testkit import make_state

REDIS_URL = os.environ.get("FLIGHTDATA_TEST_ANALYTICS_REDIS_URL") or redis_url(14)
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    conn = connect(REDIS_URL)
    try:
        conn.flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"the analytics cache tests need redis-server at {REDIS_URL}: {exc}")
    yield conn
    conn.close()


class CountingEngine:
    """Counts the queries of the live figures (plain Python) and of windows (DuckDB)."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.live, self.windows = StatesEngine(), FlightsEngine()

    def rows(self, name: str, flights: Relation, values: Mapping[str, Any]) -> list[Any]:
        self.queries.append(name)
        inner = self.live if isinstance(flights, tuple) else self.windows
        return inner.rows(name, flights, values)


def service(
    stores: Stores,
    data_dir: Path,
    cache: ResponseCache | None,
    engine: Engine,
    snapshots: LiveSnapshots | None = None,
) -> AnalyticsService:
    """The service of one request (with live snapshots of its own unless given)."""
    return AnalyticsService(
        flights=stores.flights,
        legs=stores.legs,
        cycles=stores.cycles,
        processed=LocalProcessed(data_dir),
        documents=DailyDocuments(LocalObjects(data_dir)),
        live_window_s=300.0,
        engine=engine,
        live_engine=engine,
        cache=cache,
        snapshots=snapshots,
        now=NOW,
    )


@pytest.fixture
def live_stores(tmp_path: Path) -> Iterator[Stores]:
    stores = open_stores(Settings.from_env({}, data_dir=tmp_path))
    at = NOW - timedelta(minutes=1)
    stores.flights.put_states(
        [make_state(f"abc12{n}", at, latitude=40.0 + n, longitude=n) for n in range(4)]
    )
    yield stores
    stores.close()


def analytics_keys(client: redis.Redis) -> list[str]:
    return sorted(k.decode() for k in client.scan_iter(match="analytics:*"))


def test_a_live_answer_is_cached_until_newer_data_comes(
    client: redis.Redis, live_stores: Stores, tmp_path: Path
) -> None:
    cache, engine = ResponseCache(client), CountingEngine()

    first = service(live_stores, tmp_path, cache, engine).region_counts(None)
    again = service(live_stores, tmp_path, cache, engine).region_counts(None)

    [key] = analytics_keys(client)
    assert re.fullmatch(r"analytics:regionCounts:live:[0-9a-f]{16}", key)
    assert 0 < client.ttl(key) <= 30
    assert again == first
    assert first.aircraft == 4
    assert engine.queries == ["region_counts"]  # the second request was a hit
    assert (cache.hits, cache.misses) == (1, 1)

    live_stores.flights.put_states([make_state("abc129", NOW, latitude=10.0, longitude=10.0)])
    newer = service(live_stores, tmp_path, cache, engine).region_counts(None)

    assert newer.aircraft == 5
    assert len(analytics_keys(client)) == 2
    assert engine.queries == ["region_counts"] * 2


def test_arguments_and_windows_make_their_own_keys(
    client: redis.Redis, recorded: RecordedDay
) -> None:
    cache, engine = ResponseCache(client), CountingEngine()
    data_dir = recorded.settings.data_dir

    def ask() -> AnalyticsService:
        return service(recorded.stores, data_dir, cache, engine)

    day = window(DAY.isoformat(), now=NOW)
    ask().altitude_histogram(day, 500.0)
    ask().altitude_histogram(day, 2000.0)
    ask().altitude_histogram(day, 500.0)
    ask().busiest_airports(window("P1D", now=NOW), 5)
    ask().data_quality(window("2026-11-20T06:00Z/2026-11-20T12:00Z", now=NOW))

    keys = analytics_keys(client)
    assert len(keys) == 4
    assert sum(k.startswith("analytics:altitudeHistogram:2026-11-20:") for k in keys) == 2
    assert any(k.startswith("analytics:busiestAirports:P1D:") for k in keys)
    assert any(
        k.startswith("analytics:dataQuality:20261120T060000Z/20261120T120000Z:") for k in keys
    )
    assert engine.queries == ["altitude_histogram"] * 2


def test_without_redis_answers_are_computed(live_stores: Stores, tmp_path: Path) -> None:
    down = ResponseCache(connect("redis://127.0.0.1:1/14"), retry_after_s=60)

    found = service(live_stores, tmp_path, down, CountingEngine()).region_counts(None)

    assert found.aircraft == 4
    assert down.errors == 1
    assert not down.healthy


def test_without_redis_a_live_figure_is_computed_once_a_cycle(
    live_stores: Stores, tmp_path: Path
) -> None:
    """The answers are kept with the process's live snapshot, so they go with it."""
    engine, snapshots = CountingEngine(), LiveSnapshots(live_stores.flights, 300.0)

    def ask() -> AnalyticsService:
        return service(live_stores, tmp_path, None, engine, snapshots)

    first = ask().region_counts(None)
    assert ask().region_counts(None) is first
    ask().altitude_histogram(None, 500.0)
    ask().altitude_histogram(None, 1000.0)
    ask().altitude_histogram(None, 500.0)
    assert engine.queries == ["region_counts", "altitude_histogram", "altitude_histogram"]

    live_stores.flights.put_states([make_state("abc129", NOW, latitude=10.0, longitude=10.0)])
    assert ask().region_counts(None).aircraft == first.aircraft + 1
    assert engine.queries[-1] == "region_counts"


def test_the_dashboards_live_figures_are_answered_before_anyone_asks(tmp_path: Path) -> None:
    """What the API runs after each cycle: the next requests for the dashboard's figures
    find them answered over the newest snapshot."""
    settings = Settings.from_env({}, data_dir=tmp_path)
    stores = open_stores(settings)
    try:
        at = datetime.now(UTC)
        stores.flights.put_states(
            [make_state(f"abc12{n}", at, latitude=40.0 + n, longitude=n) for n in range(4)]
        )
        for answer in live_figures(stores, settings):
            answer()
        ahead = dict(live_snapshots(stores, settings).get().answers)
        asked = build_service(stores, settings)
        figures = [
            asked.region_counts(None),
            asked.country_counts(None),
            asked.altitude_histogram(None, DEFAULT_BUCKET_M),
        ]
        assert len(ahead) == 3
        assert all(any(f is answer for answer in ahead.values()) for f in figures)
    finally:
        stores.close()
