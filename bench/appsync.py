"""Publish-to-receive latency through the local AppSync simulator with 1,000 subscribers
(or as many as the first argument says): ``python -m bench.appsync [SUBSCRIBERS [CYCLES]]``.

The replayed global snapshot is stored once (embedded default); the simulator serves the
AppSync schema (``devtools.appsync_local``) and each subscriber holds one ``flightUpdates
(bbox:)`` subscription on its own connection, speaking AppSync's real-time protocol, with a
box centred on a random aircraft, 2° to 20° on a side (``bench.subscriptions``' boxes).
Each cycle the publisher sends the snapshot (every aircraft changed: ~90 publications of
at most 300 aircraft); latency runs from the start of the publication to the moment a
subscriber has its first batch of the cycle. The simulator is one Node.js process on the
same 2 cores: AppSync itself runs the fan-out on its own fleet, so this measures the local
path, not AWS.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
from botocore.credentials import Credentials
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from appsync.iam import IamGraphQL
from appsync.publisher import Publisher
from bench._common import line, percentile
from bench.subscriptions import _boxes
from config import Settings
from devtools.appsync_local import appsync
from ingestion.reference import seed_airports
from ingestion.replay import ReplaySource, load_snapshot
from live.processed_cycle import Cycle
from runtime.ingest import build_pipeline
from runtime.stores import open_stores
from security.keys import KeyService
from security.ratelimit import tiers_from

SUBSCRIBERS = 1000
CYCLES = 3
P99_FLOOR_S = 10.0
QUERY = (
    "subscription($bbox: BoundingBoxInput) { flightUpdates(bbox: $bbox) "
    "{ cycleId flights { icao24 latitude longitude } } }"
)


async def _subscriber(
    url: str, key: str, box: dict[str, float], ready: asyncio.Event, seen: dict[str, float]
) -> None:
    host = httpx.URL(url).netloc.decode()
    headers = {"host": host, "x-api-key": key}
    encoded = base64.b64encode(orjson.dumps(headers)).decode()
    async with connect(
        f"{url}?header={encoded}&payload=e30=",
        subprotocols=[Subprotocol("graphql-ws")],
        max_size=None,
    ) as ws:
        await ws.send(orjson.dumps({"type": "connection_init"}).decode())
        start = {
            "id": str(uuid.uuid4()),
            "type": "start",
            "payload": {
                "data": orjson.dumps({"query": QUERY, "variables": {"bbox": box}}).decode(),
                "extensions": {"authorization": headers},
            },
        }
        async for raw in ws:
            message = orjson.loads(raw)
            if message["type"] == "connection_ack":
                await ws.send(orjson.dumps(start).decode())
            elif message["type"] == "start_ack":
                ready.set()
            elif message["type"] == "data":
                cycle = message["payload"]["data"]["flightUpdates"]["cycleId"]
                seen.setdefault(cycle, time.monotonic())


async def _run(
    subscribers: int, cycles: int, key: str, urls: dict[str, str], aircraft: list[str]
) -> list[float]:
    stores = open_stores(Settings.from_env())
    boxes = _boxes(subscribers)
    readies = [asyncio.Event() for _ in boxes]
    seens: list[dict[str, float]] = [{} for _ in boxes]
    tasks = []
    started = time.monotonic()
    for i, (box, ready, seen) in enumerate(zip(boxes, readies, seens, strict=True)):
        url = urls["appsyncRealtimeUrl"]
        tasks.append(asyncio.create_task(_subscriber(url, key, box, ready, seen)))
        if i % 50 == 49:  # connect in steps: the simulator takes them one at a time
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies[: i + 1])), 120)
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
    line(f"{subscribers} subscriptions registered", f"in {time.monotonic() - started:.1f} s")
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=60) as client:
        post = IamGraphQL(urls["appsyncUrl"], "eu-west-1", Credentials("local", "local"), client)
        publisher = Publisher(stores, post)
        for n in range(cycles):
            cycle_id = f"bench-{n}"
            now = datetime.now(UTC)
            started = time.monotonic()
            summary = await publisher.publish(Cycle(cycle_id, now, now, aircraft))
            published = time.monotonic() - started
            await asyncio.sleep(5.0)
            got = [s[cycle_id] - started for s in seens if cycle_id in s]
            latencies += got
            line(
                f"cycle {n}: {summary['batches']} publications",
                f"published in {published:.2f} s; {len(got)}/{subscribers} subscribers "
                f"received, p50 {percentile(got, 0.5):.2f} s"
                if got
                else "none received",
            )
    for task in tasks:
        task.cancel()
    stores.close()
    return latencies


def run(subscribers: int = SUBSCRIBERS, cycles: int = CYCLES) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            {
                "FLIGHTDATA_DATA_DIR": str(Path(tmp) / "data"),
                "FLIGHTDATA_ANONYMOUS": "false",
                "FLIGHTDATA_LIVE_WINDOW": str(10**9),
            }
        )
        settings = Settings.from_env()
        stores = open_stores(settings)
        seed_airports(stores)
        source = ReplaySource(load_snapshot())
        payload = source.advance()
        build_pipeline(settings, stores, None).process(source.name, payload, source.normalise)
        aircraft = [str(row[0]) for row in payload["states"]]
        tiers = frozenset(tiers_from(settings.rate_tiers))
        key = KeyService(stores.api_keys, tiers).create("bench", scope="admin").key
        stores.close()
        with appsync(key) as urls:
            latencies = asyncio.run(_run(subscribers, cycles, key, urls, aircraft))
    if not latencies:
        raise SystemExit("bench.appsync: no subscriber received a batch")
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    line(f"publish-to-receive, {subscribers} subscribers", f"p50 {p50:.2f} s, p99 {p99:.2f} s")
    if p99 > P99_FLOOR_S:
        raise SystemExit(f"bench.appsync: p99 {p99:.2f} s is over the {P99_FLOOR_S:.0f} s floor")
    return {"p50_s": p50, "p99_s": p99}


def main() -> None:
    args = [int(a) for a in sys.argv[1:]]
    run(*args)


if __name__ == "__main__":
    main()
