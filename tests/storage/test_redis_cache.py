"""The response cache against a real redis-server (DB 13, flushed before each test)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

import pytest
import redis
from testredis import redis_url

from domain import BoundingBox, InvalidArgument
from domain.events import FlightDataProcessed, FlightDataReceived
from storage import cursor
from storage.base import FlightFilter
from storage.redis import connect, connect_async
from storage.redis.cache import (
    GENERATION_KEY,
    ResponseCache,
    airport_key,
    analytics_key,
    flights_key,
)

# DB 13 of the tests' own server (testredis); the tests flush nothing else.
REDIS_URL = os.environ.get("FLIGHTDATA_TEST_REDIS_URL") or redis_url(13)
EUROPE = BoundingBox(35, -10, 60, 30)


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    conn = connect(REDIS_URL)
    try:
        conn.flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"the Redis tests need redis-server at {REDIS_URL}: {exc}")
    yield conn
    conn.close()


@pytest.fixture
def cache(client: redis.Redis) -> ResponseCache:
    return ResponseCache(client, retry_after_s=0.05)


class Counter:
    """A compute function that counts its calls."""

    def __init__(self, value: object) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def processed(stored: int = 3, changed: tuple[str, ...] = ("abc123",)) -> FlightDataProcessed:
    return FlightDataProcessed(
        source="replay",
        cycle_id="c1",
        received=stored,
        stored=stored,
        rejected=0,
        duplicates=0,
        changed=list(changed),
    )


def test_flights_key_layout_and_normalisation() -> None:
    key = flights_key(FlightFilter(bbox=EUROPE, callsign_prefix=" dlh"), 100)
    assert re.fullmatch(r"flights:bounds:[0-9a-f]{16}:page:0", key)
    # Same states selected, same key: the stores compare these case-insensitively.
    assert key == flights_key(FlightFilter(bbox=EUROPE, callsign_prefix="DLH "), 100)
    assert key != flights_key(FlightFilter(bbox=EUROPE, callsign_prefix="DLH"), 50)
    assert key != flights_key(FlightFilter(bbox=BoundingBox(35, -10, 60, 31)), 100)
    since = datetime(2024, 6, 1, tzinfo=UTC)
    assert flights_key(FlightFilter(since=since), 10) != flights_key(FlightFilter(), 10)
    after = cursor.encode("flights", "4b1814")
    assert flights_key(FlightFilter(bbox=EUROPE), 100, after).endswith(":page:4b1814")
    for bad in (cursor.encode("airports", "EDDF"), cursor.encode("flights", 7), "junk"):
        with pytest.raises(InvalidArgument):
            flights_key(FlightFilter(), 10, bad)


def test_airport_and_analytics_keys() -> None:
    assert airport_key(" eddf") == "airport:EDDF"
    key = analytics_key("trafficDensity", "PT1H", {"cellDeg": 1.0, "bbox": [1, 2, 3, 4]})
    assert re.fullmatch(r"analytics:trafficDensity:PT1H:[0-9a-f]{16}", key)
    assert key == analytics_key("trafficDensity", "PT1H", {"bbox": [1, 2, 3, 4], "cellDeg": 1.0})
    assert key != analytics_key("trafficDensity", "PT1H", {"bbox": [1, 2, 3, 4], "cellDeg": 2.0})


def test_cache_aside_counts_hits_and_misses(cache: ResponseCache, client: redis.Redis) -> None:
    compute = Counter({"flights": [{"icao24": "abc123", "latitude": 48.5}], "total": 1})
    key = airport_key("EDDF")
    assert cache.get_or_set(key, compute) == compute.value
    assert cache.get_or_set(key, compute) == compute.value
    assert cache.get_or_set(key, compute) == compute.value
    assert compute.calls == 1
    assert (cache.hits, cache.misses, cache.errors) == (2, 1, 0)
    assert 0 < client.ttl(key) <= 30
    stats = cache.stats()
    assert stats is not None
    assert (stats.hits, stats.misses) == (2, 1)
    assert stats.hit_ratio == pytest.approx(2 / 3)


def test_another_process_sees_the_same_entries_and_counters(
    cache: ResponseCache, client: redis.Redis
) -> None:
    other = ResponseCache(client)
    key = flights_key(FlightFilter(bbox=EUROPE), 100)
    cache.get_or_set(key, Counter([1, 2, 3]))
    assert other.get_or_set(key, Counter("not computed")) == [1, 2, 3]
    stats = other.stats()
    assert stats is not None
    assert (stats.hits, stats.misses) == (1, 1)


def test_flights_pages_are_stored_under_their_generation(
    cache: ResponseCache, client: redis.Redis
) -> None:
    key = flights_key(FlightFilter(bbox=EUROPE), 100)
    cache.get_or_set(key, Counter("page"))
    assert client.keys("flights:bounds:*") == [f"{key}:gen:0".encode()]


def test_a_cycle_that_stored_states_invalidates_flights_only(cache: ResponseCache) -> None:
    flights, airport = flights_key(FlightFilter(bbox=EUROPE), 100), airport_key("EDDF")
    page, eddf = Counter("page"), Counter("eddf")
    cache.get_or_set(flights, page)
    cache.get_or_set(airport, eddf)
    cache.on_event(processed(stored=0, changed=()))  # nothing changed: keep
    cache.on_event(FlightDataReceived(source="replay", cycle_id="c1", bytes=10))
    cache.get_or_set(flights, page)
    assert page.calls == 1
    cache.on_event(processed())
    cache.get_or_set(flights, page)
    cache.get_or_set(airport, eddf)
    assert (page.calls, eddf.calls) == (2, 1)


def test_a_value_that_is_not_json_is_recomputed(cache: ResponseCache, client: redis.Redis) -> None:
    key = airport_key("EDDF")
    client.set(key, b"\xff not json")
    assert cache.get_or_set(key, Counter({"ok": True})) == {"ok": True}
    assert cache.errors == 1
    assert cache.get_or_set(key, Counter("not computed")) == {"ok": True}


def test_async_variant_with_and_without_an_async_client(client: redis.Redis) -> None:
    async def compute() -> dict[str, int]:
        calls.append(1)
        return {"n": 1}

    async def run() -> None:
        aclient = connect_async(REDIS_URL)
        try:
            with_async = ResponseCache(client, aclient=aclient)
            assert await with_async.get_or_set_async("airport:EDDF", compute) == {"n": 1}
            assert await with_async.get_or_set_async("airport:EDDF", compute) == {"n": 1}
            threaded = ResponseCache(client)
            assert await threaded.get_or_set_async("airport:EDDF", compute) == {"n": 1}
            assert await threaded.get_or_set_async("airport:LFPG", compute) == {"n": 1}
        finally:
            await aclient.aclose()

    calls: list[int] = []
    asyncio.run(run())
    assert len(calls) == 2


def test_a_dead_redis_never_fails_a_request() -> None:
    dead = connect("redis://127.0.0.1:1/0")
    try:
        cache = ResponseCache(dead, retry_after_s=60)
        compute = Counter({"ok": 1})
        key = flights_key(FlightFilter(), 10)
        assert cache.get_or_set(key, compute) == {"ok": 1}
        assert not cache.healthy
        assert cache.errors == 1
        # The breaker skips Redis now: no second timeout, still an answer.
        assert cache.get_or_set(key, compute) == {"ok": 1}
        assert asyncio.run(cache.get_or_set_async(key, _async(compute))) == {"ok": 1}
        assert (compute.calls, cache.errors) == (3, 1)
        cache.invalidate_flights()
        cache.on_event(processed())
        assert cache.stats() is None
    finally:
        dead.close()


def _async(compute: Counter) -> Callable[[], Awaitable[object]]:
    async def run() -> object:
        return compute()

    return run


def test_an_invalidation_that_failed_is_done_by_the_next_lookup(
    cache: ResponseCache, client: redis.Redis
) -> None:
    key = flights_key(FlightFilter(bbox=EUROPE), 100)
    page = Counter("page")
    cache.get_or_set(key, page)
    client.set(GENERATION_KEY, "not a number")  # INCR fails: a real Redis error
    cache.invalidate_flights()
    assert not cache.healthy
    client.set(GENERATION_KEY, "0")
    time.sleep(0.06)  # past the breaker's retry_after_s
    cache.get_or_set(key, page)
    assert page.calls == 2  # the owed bump happened first: the old page was not served
    assert cache.healthy
    assert client.get(GENERATION_KEY) == b"1"
