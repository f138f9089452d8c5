"""The Redis live index against a real redis-server (DB 13), checked against SQLite.

The replay snapshot goes into both ``SqliteFlightRepository`` and ``RedisLiveIndex``;
every search must give the same page: items, cursors, totalCount, hasNextPage.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from testredis import redis_url

from domain import BoundingBox, FlightPhase, FlightState, InvalidArgument
from domain.flight import PositionSource
from storage import cursor
from storage.base import FlightFilter, Page, StoreUnavailable
from storage.redis import connect
from storage.redis.live import LAT_LIMIT, RedisLiveIndex, search_boxes
from storage.sqlite import SqliteDatabase, SqliteFlightRepository
from testkit import T0, make_state, replay_in_sqlite

# DB 13 of the tests' own server (testredis); the tests flush nothing else.
REDIS_URL = os.environ.get("FLIGHTDATA_TEST_REDIS_URL") or redis_url(13)


@pytest.fixture(scope="module")
def client() -> Iterator[redis.Redis]:
    conn = connect(REDIS_URL)
    try:
        conn.ping()
    except redis.RedisError as exc:
        pytest.fail(f"the Redis tests need redis-server at {REDIS_URL}: {exc}")
    yield conn
    conn.close()


def _drop(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def live(client: redis.Redis) -> Iterator[RedisLiveIndex]:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    yield RedisLiveIndex(client, prefix=prefix)
    _drop(client, prefix)


@pytest.fixture(scope="module")
def replayed(
    client: redis.Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SqliteFlightRepository, RedisLiveIndex]]:
    """The replay snapshot, validated, in SQLite and in the live index."""
    states, db, sqlite = replay_in_sqlite(tmp_path_factory.mktemp("live"))
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    live = RedisLiveIndex(client, prefix=prefix)
    assert live.put(states) == len(states)
    yield sqlite, live
    _drop(client, prefix)
    db.close()


def dump(page: Page[FlightState]) -> tuple[object, ...]:
    items = [s.model_dump() for s in page.items]
    return items, page.cursors, page.total_count, page.has_next_page


BOXES = {
    "europe": BoundingBox(35, -10, 60, 30),
    "small": BoundingBox(50, 0, 52, 5),
    "world": BoundingBox(-90, -180, 90, 180),
    "pacific across the antimeridian": BoundingBox(-60, 150, 70, -120),
    "thin across the antimeridian": BoundingBox(-10, 179.5, 80, -179.5),
    "almost the world across": BoundingBox(-80, 10, 80, 9),
    "arctic": BoundingBox(60, -180, 90, 180),
    "beyond the geo limit": BoundingBox(LAT_LIMIT, -180, 90, 180),
    "antarctic": BoundingBox(-90, -180, -50, 180),
    "a point": BoundingBox(48.0, 11.0, 48.0, 11.0),
    "equator band": BoundingBox(-1, -180, 1, 180),
    "western edge": BoundingBox(0, -180, 70, -170),
}


@pytest.mark.parametrize("name", BOXES)
def test_bbox_search_equals_sqlite(
    replayed: tuple[SqliteFlightRepository, RedisLiveIndex], name: str
) -> None:
    sqlite, live = replayed
    flt = FlightFilter(bbox=BOXES[name])
    assert dump(live.search(flt, first=10_000)) == dump(sqlite.search_latest(flt, first=10_000))


@pytest.mark.parametrize("name", ["world", "europe", "pacific across the antimeridian"])
def test_all_latest_equals_sqlite(
    replayed: tuple[SqliteFlightRepository, RedisLiveIndex], name: str
) -> None:
    sqlite, live = replayed
    flt = FlightFilter(bbox=BOXES[name])
    found = live.all_latest(flt)
    assert found
    assert [s.model_dump() for s in found] == [s.model_dump() for s in sqlite.all_latest(flt)]


def test_random_boxes_equal_sqlite(
    replayed: tuple[SqliteFlightRepository, RedisLiveIndex],
) -> None:
    sqlite, live = replayed
    rnd = random.Random(20240601)
    for _ in range(80):
        south = rnd.uniform(-90, 89)
        north = min(90.0, south + rnd.choice([0.5, 5, 20, 60, 180]))
        west, east = rnd.uniform(-180, 180), rnd.uniform(-180, 180)
        flt = FlightFilter(bbox=BoundingBox(south, west, north, east))
        expected = sqlite.search_latest(flt, first=50)
        assert dump(live.search(flt, first=50)) == dump(expected), flt


def test_other_filters_equal_sqlite(
    replayed: tuple[SqliteFlightRepository, RedisLiveIndex],
) -> None:
    sqlite, live = replayed
    newest = sqlite.newest_contact()
    assert newest is not None
    europe = BOXES["europe"]
    filters = [
        FlightFilter(),
        FlightFilter(bbox=europe, callsign_prefix="dlh"),
        FlightFilter(callsign_prefix="  "),  # LIKE '%': any aircraft with a callsign
        FlightFilter(callsign_prefix="RYR_"),  # '_' is no wildcard
        FlightFilter(origin_country="united states"),
        FlightFilter(bbox=europe, on_ground=True),
        FlightFilter(bbox=europe, on_ground=False, since=newest - timedelta(seconds=20)),
        FlightFilter(since=newest),
    ]
    for flt in filters:
        expected = sqlite.search_latest(flt, first=300)
        assert dump(live.search(flt, first=300)) == dump(expected), flt


def test_pages_and_cursors_are_interchangeable(
    replayed: tuple[SqliteFlightRepository, RedisLiveIndex],
) -> None:
    sqlite, live = replayed
    flt = FlightFilter(bbox=BOXES["pacific across the antimeridian"])
    after: str | None = None
    pages = 0
    while True:
        page = live.search(flt, first=15, after=after)
        assert dump(page) == dump(sqlite.search_latest(flt, first=15, after=after))
        pages += 1
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert pages > 2
    # A cursor SQLite made continues a Redis search, and the other way round.
    sqlite_cursor = sqlite.search_latest(flt, first=7).end_cursor
    assert dump(live.search(flt, first=5, after=sqlite_cursor)) == dump(
        sqlite.search_latest(flt, first=5, after=sqlite_cursor)
    )


@pytest.mark.parametrize(
    "bad", ["nope", cursor.encode("airports", "abc123"), cursor.encode("flights", 42)]
)
def test_bad_cursors_are_invalid_arguments(live: RedisLiveIndex, bad: str) -> None:
    with pytest.raises(InvalidArgument):
        live.search(FlightFilter(), first=10, after=bad)


def latitude(state: FlightState | None) -> float | None:
    assert state is not None
    return state.latitude


def test_an_older_state_never_replaces_a_newer_one(live: RedisLiveIndex) -> None:
    newer = make_state("abc123", T0 + timedelta(seconds=10), latitude=10.0)
    older = make_state("abc123", T0, latitude=20.0)
    assert live.put([newer]) == 1
    assert live.put([older]) == 0
    assert latitude(live.latest("abc123")) == 10.0
    same_time = make_state("abc123", T0 + timedelta(seconds=10), latitude=11.0)
    assert live.put([same_time]) == 1  # as SQLite: not older replaces
    assert latitude(live.latest("abc123")) == 11.0


def test_every_field_reads_back_as_from_sqlite(live: RedisLiveIndex, tmp_path: Path) -> None:
    state = make_state(
        "~a1b2c3",
        T0,
        time_position=T0 - timedelta(seconds=2.5),
        squawk="7700",
        spi=True,
        position_source=PositionSource.MLAT,
        category=3,
        geo_altitude_m=10_100.0,
        region="europe",
        grid_cell="48:2",
        phase=FlightPhase.CRUISE,
        nearest_airport_icao="LFPG",
        nearest_airport_km=12.5,
    )
    db = SqliteDatabase(tmp_path / "one.sqlite3")
    try:
        sqlite = SqliteFlightRepository(db)
        sqlite.put_states([state, make_state("def456", T0, region=None)])
        live.put([state, make_state("def456", T0, region=None)])
        assert live.latest_many(["a1b2c3", "def456"]) == sqlite.latest_many(["a1b2c3", "def456"])
    finally:
        db.close()


def test_a_state_without_position_leaves_the_geo_set(
    live: RedisLiveIndex, client: redis.Redis
) -> None:
    live.put([make_state("abc123", T0), make_state("def456", T0)])
    live.put([make_state("abc123", T0 + timedelta(seconds=5), latitude=None, longitude=None)])
    found = live.search(FlightFilter(), first=10)
    assert [s.icao24 for s in found.items] == ["def456"]
    still = live.latest("abc123")
    assert still is not None
    assert still.latitude is None
    assert set(live.latest_many(["abc123", "def456", "000000"])) == {"abc123", "def456"}


def test_states_expire_and_expired_members_are_pruned(
    live: RedisLiveIndex, client: redis.Redis
) -> None:
    live.put([make_state("abc123", T0), make_state("def456", T0)])
    key = f"{live.prefix}:live:state:abc123"
    assert 0 < client.ttl(key) <= live.ttl_s
    client.delete(key)  # what expiry does, without waiting for it
    assert [s.icao24 for s in live.search(FlightFilter(), first=10).items] == ["def456"]
    assert client.zscore(f"{live.prefix}:live:geo", "abc123") is None
    assert live.latest("abc123") is None


def test_newest_contact_and_completeness(live: RedisLiveIndex) -> None:
    assert live.newest_contact() is None
    assert live.complete_since()[0] is None
    before = datetime.now(UTC).timestamp()
    live.put([make_state("abc123", T0), make_state("def456", T0 + timedelta(seconds=3))])
    assert live.newest_contact() == T0 + timedelta(seconds=3)
    live.put([make_state("abc123", T0 + timedelta(seconds=1))])
    assert live.newest_contact() == T0 + timedelta(seconds=3)
    since, now = live.complete_since()
    assert since is not None
    assert before - 1 <= since <= now + 1


def test_search_boxes_split_clamp_and_centre() -> None:
    (one,) = search_boxes(BoundingBox(40, -10, 50, 10))
    assert one[:2] == pytest.approx((0.0, 45.0))
    east, west = search_boxes(BoundingBox(-10, 170, 10, -170))
    assert east[0] == pytest.approx(175.0, abs=1e-3)
    assert west[0] == pytest.approx(-175.0, abs=1e-3)
    for lon, lat, width, height in search_boxes(BoundingBox(80, -180, 90, 180)):
        assert -180 <= lon <= 180
        assert -LAT_LIMIT <= lat <= LAT_LIMIT
        assert width > 0
        assert height > 0


def test_rejects_unknown_layouts(live: RedisLiveIndex, client: redis.Redis) -> None:
    live.put([make_state("abc123", T0)])
    client.hset(f"{live.prefix}:live:state:abc123", "s", b'[99, "abc123"]')
    with pytest.raises(StoreUnavailable, match="layout"):
        live.search(FlightFilter(), first=10)


def test_unreachable_redis_is_store_unavailable() -> None:
    dead = connect("redis://127.0.0.1:1/0")
    try:
        live = RedisLiveIndex(dead)
        with pytest.raises(StoreUnavailable):
            live.search(FlightFilter(), first=1)
        with pytest.raises(StoreUnavailable):
            live.put([make_state()])
    finally:
        dead.close()
