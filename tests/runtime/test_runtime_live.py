"""An ingest process that serves no API publishes its cycles where the API processes
listen: over Redis when there is Redis."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from starlette.responses import Response
from testredis import redis_url

from analytics.service import live_snapshots
from api.foreground import Foreground
from app import create_app
from config import Settings
from domain.cycle import CycleReport
from live.cycle_update import CycleUpdate
from runtime.live import build_broadcaster, ingest_publisher
from runtime.stores import open_stores
from testkit import T0, TestClient, make_state

REDIS_URL = redis_url(12)


def test_an_ingest_process_publishes_each_cycle_over_redis(tmp_path: Path) -> None:
    settings = Settings.from_env({"REDIS_URL": REDIS_URL}, data_dir=tmp_path)
    report = CycleReport(source="replay", started_at=T0, cycle_id="replay@1")
    with open_stores(settings) as stores:
        publish = ingest_publisher(settings, stores)
        assert publish is not None
        channel = build_broadcaster(settings, stores, ingests=False)

        async def first_update() -> CycleUpdate:
            subscribed = asyncio.Event()
            updates = channel.listen(on_subscribed=subscribed.set)
            received = asyncio.ensure_future(anext(updates))
            await asyncio.wait_for(subscribed.wait(), 10)
            publish(report, [make_state("abc123")])
            return await asyncio.wait_for(received, 10)

        update = asyncio.run(first_update())
    assert update.cycle_id == "replay@1"
    assert [s.icao24 for s in update.states] == ["abc123"]


def test_without_redis_the_api_processes_read_the_store(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path)
    with open_stores(settings) as stores:
        assert ingest_publisher(settings, stores) is None


def test_after_each_cycle_the_api_has_the_dashboards_live_figures_answered(
    tmp_path: Path,
) -> None:
    """Before any request asks for them (``analytics.service.live_figures``)."""
    settings = Settings.from_env({"FLIGHTDATA_INTERVAL": "600"}, data_dir=tmp_path)
    app = create_app(settings, ingest=True)
    with TestClient(app):
        snapshots = live_snapshots(app.state.runtime.stores, settings)
        deadline = time.monotonic() + 60
        while len(snapshots.get().answers) < 3:
            assert time.monotonic() < deadline, "the first cycle's figures were not answered"
            time.sleep(0.05)
        assert snapshots.get().total > 5_000  # the replay's first cycle


def test_the_apis_hub_yields_to_the_requests_in_progress(tmp_path: Path) -> None:
    """The served app counts its HTTP requests, and its hub waits on that count."""
    settings = Settings.from_env({"FLIGHTDATA_INTERVAL": "600"}, data_dir=tmp_path)
    app = create_app(settings, ingest=False)
    hub = app.state.runtime.hub
    foreground = hub._yield_to.__self__
    assert isinstance(foreground, Foreground)
    seen: list[int] = []
    app.add_route("/probe", lambda request: seen.append(foreground.active) or Response("ok"))
    with TestClient(app) as client:
        assert client.get("/probe").status_code == 200
    assert seen == [1]
    assert foreground.active == 0
