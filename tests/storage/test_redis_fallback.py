"""``LiveFirst`` over SQLite and a Redis server of its own, which the test stops and
starts again: queries keep answering from the store while Redis is down (``degraded``),
and Redis answers again once it is back and known complete. On the AWS backend (DynamoDB
Local, Redis at a port nothing listens on) bbox queries answer from ``RegionTimeIndex``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from app import Runtime, create_app
from config import Settings
from devtools.dynamodb_local import CREDENTIALS, REGION, DynamoDBLocal
from devtools.redis_server import RedisServer
from domain import BoundingBox, FlightState
from runtime.stores import open_stores
from storage.base import FlightFilter, Page
from storage.dynamodb import AirportIndex, DynamoStores
from storage.redis import connect
from storage.redis.fallback import LiveFirst
from storage.redis.live import RedisLiveIndex
from storage.sqlite import SqliteDatabase, SqliteFlightRepository
from testkit import TestClient, make_state

PREFIX = "fallback"


class RedisProcess:
    """A throwaway server of this test's own (``devtools.redis_server``) on a free port,
    without persistence, which the test stops and starts again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self._server = RedisServer(workdir=workdir)

    @property
    def url(self) -> str:
        return self._server.url(0)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def client(server: RedisProcess) -> Iterator[redis.Redis]:
    conn = connect(server.url)
    yield conn
    conn.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteFlightRepository]:
    db = SqliteDatabase(tmp_path / "flights.sqlite3")
    yield SqliteFlightRepository(db)
    db.close()


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def world(at: datetime) -> list[FlightState]:
    return [
        make_state(f"{i:06x}", at - timedelta(seconds=i), latitude=40.0 + i, longitude=i * 3.0)
        for i in range(10)
    ]


def codes(states: list[FlightState]) -> list[str]:
    return [s.icao24 for s in states]


def settle(client: redis.Redis) -> None:
    """Make the index complete since long ago, as it is a TTL after its first put."""
    client.set(f"{PREFIX}:live:complete_since", 0)


def test_reads_go_to_redis_only_where_it_is_complete(
    client: redis.Redis, store: SqliteFlightRepository
) -> None:
    repo = LiveFirst(RedisLiveIndex(client, prefix=PREFIX), store)
    t = now()
    repo.put_states(world(t))
    # Only in Redis: shows which side answered.
    repo.live.put([make_state("ffffff", t, latitude=45.0, longitude=5.0)])
    live_window = FlightFilter(since=t - timedelta(seconds=60))
    assert "ffffff" not in codes(repo.search_latest(live_window, first=100).items)  # just began
    settle(client)
    assert "ffffff" in codes(repo.search_latest(live_window, first=100).items)
    history = FlightFilter(since=t - timedelta(hours=2))
    assert "ffffff" not in codes(repo.search_latest(history, first=100).items)
    assert "ffffff" not in codes(repo.search_latest(FlightFilter(), first=100).items)
    assert repo.latest("ffffff") is not None
    assert repo.latest("000009") == store.latest("000009")
    assert repo.newest_contact() == t
    assert (repo.fallbacks, repo.degraded) == (0, False)


def test_queries_answer_from_the_store_while_redis_is_down(
    server: RedisProcess, client: redis.Redis, store: SqliteFlightRepository
) -> None:
    repo = LiveFirst(RedisLiveIndex(client, prefix=PREFIX), store, retry_after_s=0.05)
    t = now()
    repo.put_states(world(t))
    settle(client)
    live_window = FlightFilter(since=t - timedelta(seconds=60))
    expected = codes(store.search_latest(live_window, first=100).items)
    assert codes(repo.search_latest(live_window, first=100).items) == expected

    server.stop()
    assert codes(repo.search_latest(live_window, first=100).items) == expected
    assert repo.degraded
    assert repo.latest("000001") == store.latest("000001")
    assert repo.newest_contact() == t
    later = t + timedelta(seconds=10)
    result = repo.put_states([make_state("000001", later, latitude=60.0)])  # store only
    assert result.stored == 1
    assert repo.latest("000001") == store.latest("000001")
    assert repo.fallbacks >= 3

    server.start()  # empty: it lost everything
    time.sleep(0.06)  # past retry_after_s
    repo.put_states([make_state("000002", later)])
    assert not repo.degraded
    # Redis lacks what was written while it was down: the store keeps answering...
    assert codes(repo.search_latest(live_window, first=100).items) == expected
    assert repo.latest("000003") == store.latest("000003")
    # ...until the index is complete again: the next cycles rewrite every aircraft, and
    # a TTL later nothing older is left (here, by decree).
    repo.put_states(world(later))
    settle(client)
    expected = codes(store.search_latest(live_window, first=100).items)
    repo.live.put([make_state("ffffff", later, latitude=45.0, longitude=5.0)])
    assert codes(repo.search_latest(live_window, first=100).items) == [*expected, "ffffff"]
    assert not repo.degraded


def test_a_missed_write_restarts_completeness(
    client: redis.Redis, store: SqliteFlightRepository
) -> None:
    live = RedisLiveIndex(client, prefix=PREFIX)
    repo = LiveFirst(live, store, retry_after_s=0.05)
    t = now()
    repo.put_states(world(t))
    settle(client)
    # Writes stall past the read timeout: this put is lost for the index.
    client.client_pause(1000, all=False)  # WRITE mode
    try:
        repo.put_states([make_state("000001", t + timedelta(seconds=5), latitude=70.0)])
    finally:
        client.client_unpause()
    assert repo.degraded
    time.sleep(0.06)
    repo.put_states([make_state("000002", t + timedelta(seconds=5))])
    since, _ = live.complete_since()
    assert since is not None
    assert since > 0  # restarted: reads go to the store until the missed state expired
    assert repo.latest("000001") == store.latest("000001")


def test_a_hanging_redis_costs_one_short_timeout(
    client: redis.Redis, store: SqliteFlightRepository
) -> None:
    repo = LiveFirst(RedisLiveIndex(client, prefix=PREFIX), store, retry_after_s=5)
    t = now()
    repo.put_states(world(t))
    settle(client)
    live_window = FlightFilter(since=t - timedelta(seconds=60))
    client.client_pause(500)  # every command hangs, as on a stalled network
    started = time.monotonic()
    assert codes(repo.search_latest(live_window, first=100).items) == codes(world(t))
    first_call = time.monotonic() - started
    started = time.monotonic()
    repo.search_latest(live_window, first=100)
    repo.newest_contact()
    later_calls = time.monotonic() - started
    assert repo.degraded
    assert 0.2 < first_call < 1.0  # the 0.25 s read timeout, once
    assert later_calls < 0.2  # the breaker skips Redis meanwhile
    time.sleep(0.5)  # the pause ends before the server is stopped


class Recent:
    """A ``RecentSearch`` that counts what it is asked and answers with no aircraft."""

    def __init__(self) -> None:
        self.asked: list[FlightFilter] = []

    def search_recent(
        self, flt: FlightFilter, *, first: int, after: str | None = None
    ) -> Page[FlightState]:
        self.asked.append(flt)
        return Page([], [], 0, False)


def test_recent_answers_bbox_queries_only_while_redis_is_down(
    server: RedisProcess, client: redis.Redis, store: SqliteFlightRepository
) -> None:
    recent = Recent()
    repo = LiveFirst(RedisLiveIndex(client, prefix=PREFIX), store, recent=recent)
    t = now()
    repo.put_states(world(t))
    in_box = FlightFilter(bbox=BoundingBox(40.0, 0.0, 46.0, 20.0), since=t - timedelta(minutes=1))
    # Up but not yet complete: the store, whose latest items cost less to read.
    assert repo.search_latest(in_box, first=10).total_count == 7
    server.stop()
    assert repo.search_latest(in_box, first=10).total_count == 0  # answered by ``recent``
    everywhere = FlightFilter(since=in_box.since)
    assert repo.search_latest(everywhere, first=10).total_count == 10  # no box: the store
    assert recent.asked == [in_box]
    assert repo.degraded


# --- the AWS backend: DynamoDB's RegionTimeIndex answers while Redis is down ----------------

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens there


@pytest.fixture
def aws_settings(
    dynamodb_local: DynamoDBLocal,
    dynamodb_seeded_airports: tuple[str, AirportIndex],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """The AWS backend on DynamoDB Local (seeded airports), its Redis down."""
    for name, value in {**CREDENTIALS, "aws_region": REGION}.items():
        monkeypatch.setenv(name.upper(), value)
    tables = dynamodb_local.create(dynamodb_local.names(tmp_path))
    settings = Settings.from_env(
        {},
        data_dir=tmp_path / "data",
        backend="aws",
        dynamodb_endpoint_url=dynamodb_local.endpoint,
        dynamodb_flights_table=tables.flights,
        dynamodb_airports_table=dynamodb_seeded_airports[0],
        dynamodb_ops_table=tables.ops,
        s3_raw_bucket="checked-at-start",
        aws_region=REGION,
    )
    return replace(settings, s3_raw_bucket="", redis_url=DEAD_REDIS)


def test_bbox_queries_answer_from_region_time_index_while_redis_is_down(
    aws_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = open_stores(aws_settings)
    try:
        assert isinstance(stores.backend, DynamoStores)
        dynamo = stores.backend.flights
        assert stores.live is not None
        assert stores.live.recent is dynamo
        t = now()
        stores.flights.put_states([*world(t - timedelta(seconds=10)), *world(t)])
        live_window = t - timedelta(seconds=aws_settings.live_window_s)
        filters = [
            FlightFilter(bbox=BoundingBox(40.0, 0.0, 46.0, 20.0), since=live_window),
            FlightFilter(bbox=BoundingBox(-90.0, -180.0, 90.0, 180.0), since=live_window),
            FlightFilter(bbox=BoundingBox(40.0, 0.0, 60.0, 30.0), since=t, on_ground=False),
        ]
        expected = [dynamo.search_latest(flt, first=3) for flt in filters]
        assert [page.total_count for page in expected] == [7, 10, 1]

        def latest_items_are_not_read(*args: object, **kwargs: object) -> None:
            raise AssertionError("answered from the latest items, not RegionTimeIndex")

        monkeypatch.setattr(dynamo, "search_latest", latest_items_are_not_read)
        assert [stores.flights.search_latest(flt, first=3) for flt in filters] == expected
        second = stores.flights.search_latest(filters[1], first=3, after=expected[1].end_cursor)
        assert codes(second.items) == ["000003", "000004", "000005"]
        assert stores.degraded() == ["live_index", "cache"]
        assert stores.live.fallbacks >= len(filters)
        monkeypatch.undo()
        history = FlightFilter(bbox=filters[0].bbox, since=t - timedelta(hours=2))
        assert stores.flights.search_latest(history, first=3) == expected[0]  # latest items
    finally:
        stores.close()


def test_the_api_answers_bbox_queries_and_says_degraded_while_redis_is_down(
    aws_settings: Settings,
) -> None:
    with TestClient(create_app(aws_settings, ingest=False)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        runtime.stores.flights.put_states(world(now()))
        response = client.post(
            "/graphql",
            json={
                "query": "{ flights(bbox: {south: 40, west: 0, north: 46, east: 20}) "
                "{ totalCount nodes { icao24 } } }"
            },
        )
        assert response.status_code == 200
        body = response.json()
        assert "errors" not in body
        assert body["data"]["flights"]["totalCount"] == 7
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        assert set(health.json()["degraded"]) == {"live_index", "cache"}
