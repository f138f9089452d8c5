"""Subscriptions as a client sees them: the ``gql`` package over a real socket to
``flightdata serve`` (uvicorn) in its own process, on both GraphQL WebSocket protocols;
and two API processes sharing one Redis, where an ingest on one reaches a subscriber on
the other."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from testredis import redis_url

from storage.redis import connect
from testkit import served

PROTOCOLS = [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, WebsocketsTransport.APOLLO_SUBPROTOCOL]
EUROPE = {"south": 35.0, "west": -10.0, "north": 70.0, "east": 30.0}
FLIGHT_UPDATES = gql(
    """subscription Live($bbox: BoundingBoxInput, $icao24: [String!]) {
      flightUpdates(bbox: $bbox, icao24: $icao24) {
        cycleId at snapshot droppedBatches removed
        flights { icao24 latitude longitude lastContact nearestAirport { airport { icao } } }
      }
    }"""
)
TRACK_UPDATES = gql(
    "subscription($icao24: String!) { trackUpdates(icao24: $icao24) { time latitude longitude } }"
)


def _data_dir(tmp_path: Path, seeded_db: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(seeded_db, data / seeded_db.name)
    return data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[str]:
    """The embedded default, replaying a cycle every 2 s: on two busy cores (the suite runs
    on two processes) a cycle every second outran the API's poll, twice in a run."""
    data = _data_dir(tmp_path_factory.mktemp("live"), seeded_db)
    env = {"FLIGHTDATA_DATA_DIR": str(data), "FLIGHTDATA_INTERVAL": "2"}
    with served(env) as base:
        _wait_for_flights(base)
        url = base.replace("http://", "ws://") + "/graphql"
        asyncio.run(asyncio.wait_for(_wait_for_live(url), 30))
        yield url


def _wait_for_flights(base: str, timeout: float = 30.0) -> None:
    """Until the first ingest cycle stored what a subscriber's first batch will hold."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.post(f"{base}/graphql", json={"query": "{ flights { totalCount } }"}).json()
        if body["data"]["flights"]["totalCount"]:
            return
        time.sleep(0.2)
    pytest.fail("no flights were ingested in time")


async def _wait_for_live(url: str) -> None:
    """Until the API process has heard of a stored cycle: the ingest process stores it a
    moment (one poll of the store) before a new subscriber's snapshot can hold it."""
    transport = WebsocketsTransport(url=url)
    async with Client(transport=transport) as session:
        request = GraphQLRequest(FLIGHT_UPDATES, variable_values={"bbox": EUROPE})
        async for result in session.subscribe(request):
            if result["flightUpdates"]["flights"]:
                return


async def _take(url: str, document: Any, n: int, protocol: str, **variables: Any) -> list[Any]:
    transport = WebsocketsTransport(url=url, subprotocols=[protocol])
    results = []
    async with Client(transport=transport) as session:
        async for result in session.subscribe(GraphQLRequest(document, variable_values=variables)):
            results.append(result)
            if len(results) == n:
                break
    return results


def _inside(flight: dict[str, Any], box: dict[str, float]) -> bool:
    return (
        box["south"] <= flight["latitude"] <= box["north"]
        and box["west"] <= flight["longitude"] <= box["east"]
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_subscriber_gets_the_current_state_then_a_batch_per_cycle(
    server: str, protocol: str
) -> None:
    results = asyncio.run(
        asyncio.wait_for(_take(server, FLIGHT_UPDATES, 4, protocol, bbox=EUROPE), 60)
    )
    batches = [r["flightUpdates"] for r in results]
    first, *rest = batches
    assert first["snapshot"] is True
    assert len(first["flights"]) > 500, "the replayed snapshot has a thousand over Europe"
    # A cycle stored while the API polls for the one before reaches it together with
    # that one: the subscriber is then sent the current state again (a resync), once.
    later = [b for b in rest if not b["snapshot"]]
    assert len(rest) - len(later) <= 1
    assert len(later) >= 2
    for batch in later:
        assert batch["droppedBatches"] == 0
        assert batch["flights"], "replayed aircraft move every cycle"
    assert len({b["cycleId"] for b in later}) == len(later)
    for batch in batches:
        assert all(_inside(f, EUROPE) for f in batch["flights"])
    with_airport = [f for b in batches for f in b["flights"] if f["nearestAirport"]]
    assert with_airport, "nearestAirport resolves inside subscription batches"
    # The same aircraft, later and elsewhere: positions change from cycle to cycle.
    before = {f["icao24"]: f for f in first["flights"]}
    moved = [
        f
        for f in later[-1]["flights"]
        if f["icao24"] in before and f["lastContact"] > before[f["icao24"]]["lastContact"]
    ]
    assert moved


def test_track_updates_follow_one_aircraft(server: str) -> None:
    async def run() -> list[Any]:
        transport = WebsocketsTransport(url=server)
        async with Client(transport=transport) as session:
            query = (
                "query($b: BoundingBoxInput) { flights(bbox: $b, first: 1) { nodes { icao24 } } }"
            )
            first = await session.execute(GraphQLRequest(query, variable_values={"b": EUROPE}))
            code = first["flights"]["nodes"][0]["icao24"]
            points = []
            track = GraphQLRequest(TRACK_UPDATES, variable_values={"icao24": code})
            async for result in session.subscribe(track):
                points.append(result["trackUpdates"])
                if len(points) == 3:
                    return points
        raise AssertionError("the subscription ended")

    points = asyncio.run(asyncio.wait_for(run(), 60))
    times = [p["time"] for p in points]
    assert times == sorted(times)
    assert len(set(times)) == 3


def test_bad_arguments_get_an_error_that_says_what_was_wrong(server: str) -> None:
    async def run(**variables: Any) -> str:
        transport = WebsocketsTransport(url=server, subprotocols=[PROTOCOLS[0]])
        async with Client(transport=transport) as session:
            with pytest.raises(TransportQueryError) as caught:
                async for _ in session.subscribe(
                    GraphQLRequest(FLIGHT_UPDATES, variable_values=variables)
                ):
                    pass
        return str(caught.value)

    assert "icao24 must be 6 hexadecimal digits" in asyncio.run(run(icao24=["nothex"]))
    assert "south" in asyncio.run(
        run(bbox={"south": 95.0, "west": 0.0, "north": 10.0, "east": 10.0})
    )


def test_ping_gets_a_pong(server: str) -> None:
    async def run() -> None:
        transport = WebsocketsTransport(url=server, subprotocols=[PROTOCOLS[0]])
        async with Client(transport=transport):
            await transport.send_ping()
            await asyncio.wait_for(transport.pong_received.wait(), 10)

    asyncio.run(run())


REDIS_URL = redis_url(9)


def test_an_ingest_on_one_process_reaches_a_subscriber_on_another(
    tmp_path: Path, seeded_db: Path
) -> None:
    conn = connect(REDIS_URL)
    try:
        conn.flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"this test needs redis-server at {REDIS_URL}: {exc}")
    finally:
        conn.close()
    data = _data_dir(tmp_path, seeded_db)
    api_env = {"FLIGHTDATA_DATA_DIR": str(data), "REDIS_URL": REDIS_URL}
    ingest_env = {**api_env, "FLIGHTDATA_INTERVAL": "1"}

    async def run(url: str) -> list[Any]:
        return await _take(url, FLIGHT_UPDATES, 3, PROTOCOLS[0], bbox=EUROPE)

    with served(api_env, "--no-ingest") as api, served(ingest_env):
        results = asyncio.run(asyncio.wait_for(run(api.replace("http", "ws") + "/graphql"), 60))
    later = [r["flightUpdates"] for r in results[1:]]
    assert all(not b["snapshot"] for b in later)
    assert all(b["cycleId"].startswith("replay@") for b in later)
    assert any(len(b["flights"]) > 500 for b in later)


def test_without_redis_an_api_process_follows_a_separate_ingest_through_the_store(
    tmp_path: Path, seeded_db: Path
) -> None:
    """``serve --workers N`` on the embedded default: the API workers do not ingest."""
    data = _data_dir(tmp_path, seeded_db)
    env = {**os.environ, "FLIGHTDATA_DATA_DIR": str(data), "LOG_LEVEL": "WARNING"}
    ingest = subprocess.Popen(
        [sys.executable, "-m", "app", "ingest", "--every", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with served({"FLIGHTDATA_DATA_DIR": str(data)}, "--no-ingest") as api:
            url = api.replace("http", "ws") + "/graphql"
            results = asyncio.run(
                asyncio.wait_for(_take(url, FLIGHT_UPDATES, 3, PROTOCOLS[0], bbox=EUROPE), 60)
            )
    finally:
        ingest.terminate()
        ingest.wait(10)
    later = [r["flightUpdates"] for r in results[1:]]
    assert all(b["cycleId"].startswith("replay@") for b in later)
    assert len({b["cycleId"] for b in later}) == 2
    assert any(b["flights"] for b in later)
    assert all(_inside(f, EUROPE) for b in later for f in b["flights"])
