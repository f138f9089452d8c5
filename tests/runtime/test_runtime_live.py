"""An ingest process that serves no API publishes its cycles where the API processes
listen: over Redis when there is Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path

from testredis import redis_url

from config import Settings
from domain.cycle import CycleReport
from live.cycle_update import CycleUpdate
from runtime.live import build_broadcaster, ingest_publisher
from runtime.stores import open_stores
from testkit import T0, make_state

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
