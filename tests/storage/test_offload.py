"""The sync/async seam (``storage.offload``): a slow store read holds up only the request
that made it. With every ``search_latest`` taking half a second, as the Redis-down fallback
can, ``/healthz`` and a WebSocket subscriber's ping still answer within 50 ms while such
reads are running: nine answers in ten, the rest well short of a slow read (a loaded test
machine can delay any one answer; a blocked event loop delays them all by half a second)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from websockets.sync.client import connect

from app import create_app
from config import Settings
from storage.base import FlightFilter, FlightRepository, Page
from storage.offload import inline, offload
from testkit import free_port

SLOW_S = 0.5
ANSWER_S = 0.05


def _answered_in_time(took: list[float]) -> bool:
    ordered = sorted(took)
    return ordered[int(0.9 * (len(ordered) - 1))] < ANSWER_S and ordered[-1] < SLOW_S / 2


FLIGHTS = '{"query": "{ flights(first: 5) { totalCount } }"}'


class SlowFlights:
    """A flight store whose ``search_latest`` sleeps first (the flights query's read)."""

    def __init__(self, inner: FlightRepository) -> None:
        self.inner = inner

    def search_latest(self, flt: FlightFilter, *, first: int, after: str | None = None) -> Page:
        time.sleep(SLOW_S)
        return self.inner.search_latest(flt, first=first, after=after)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def base_url(seeded_settings: Settings) -> Iterator[str]:
    """The app with a slow flight store, served by uvicorn on a free port in this process."""
    app = create_app(seeded_settings, ingest=False)
    stores = app.state.runtime.stores
    stores.flights = SlowFlights(stores.flights)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _slow_queries(base: str, count: int) -> list[Any]:
    """``count`` flights queries in flight at once; the futures of their responses."""
    pool = ThreadPoolExecutor(count)
    post = lambda: httpx.post(  # noqa: E731
        f"http://{base}/graphql",
        content=FLIGHTS,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    futures = [pool.submit(post) for _ in range(count)]
    pool.shutdown(wait=False)
    time.sleep(0.1)  # the reads have started
    return futures


def test_health_answers_while_slow_reads_run(base_url: str) -> None:
    with httpx.Client(base_url=f"http://{base_url}") as client:
        assert client.get("/healthz").status_code == 200  # warm
        queries = _slow_queries(base_url, 3)
        took = []
        while not all(q.done() for q in queries):
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            took.append(time.perf_counter() - started)
    assert all(q.result().status_code == 200 for q in queries)
    assert len(took) >= 5
    assert _answered_in_time(took), sorted(took)


def test_a_subscribers_ping_answers_while_slow_reads_run(base_url: str) -> None:
    with connect(f"ws://{base_url}/graphql", subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        ws.send(orjson.dumps({"type": "connection_init"}).decode())
        assert orjson.loads(ws.recv(10))["type"] == "connection_ack"
        ws.send(
            orjson.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": "subscription { flightUpdates { cycleId } }"},
                }
            ).decode()
        )
        assert orjson.loads(ws.recv(10))["type"] == "next"  # the current state
        queries = _slow_queries(base_url, 3)
        took = []
        while not all(q.done() for q in queries):
            started = time.perf_counter()
            ws.send('{"type": "ping"}')
            assert orjson.loads(ws.recv(10))["type"] == "pong"
            took.append(time.perf_counter() - started)
            time.sleep(0.01)
    assert all(q.result().status_code == 200 for q in queries)
    assert len(took) >= 5
    assert _answered_in_time(took), sorted(took)


class _Repo:
    @inline
    def lookup(self) -> int:
        return threading.get_ident()

    def search(self) -> int:
        return threading.get_ident()


def test_marked_lookups_run_inline_and_the_rest_on_a_worker_thread() -> None:
    async def threads() -> tuple[int, int, int]:
        repo = _Repo()
        return threading.get_ident(), await offload(repo.lookup), await offload(repo.search)

    loop_thread, lookup_thread, search_thread = asyncio.run(threads())
    assert lookup_thread == loop_thread
    assert search_thread != loop_thread


def test_the_sqlite_lookups_by_key_are_marked_inline_and_its_searches_are_not() -> None:
    from storage.sqlite import SqliteAirportRepository, SqliteFlightRepository

    assert getattr(SqliteFlightRepository.latest, "__offload_inline__", False)
    assert getattr(SqliteAirportRepository.by_icao, "__offload_inline__", False)
    assert not getattr(SqliteFlightRepository.search_latest, "__offload_inline__", False)
    assert not getattr(SqliteFlightRepository.prune, "__offload_inline__", False)
