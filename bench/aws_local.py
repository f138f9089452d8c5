"""The AWS backend on local engines: DynamoDB Local for the stores, the local Redis for
the live index and the response cache (``python -m bench.aws_local``).

- ingest of the real 5,485-state snapshot into DynamoDB Local (states/s);
- ``flights(bbox)`` with a cold cache (every page a miss) and a warm one (median, p95);
- the cache hit ratio under a dashboard workload: 20 viewers each polling the same five
  map views every 2 s while the snapshot is ingested every 10 s (each cycle retires
  every cached page), for three cycles.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory

from app import tune_gc
from bench._common import line, median, p95
from config import Settings
from ingestion.events import FlightDataProcessed
from ingestion.replay import ReplaySource
from ingestion.service import build_pipeline
from resolvers.context import Context, make_loaders
from schema import build_schema
from storage.dynamodb.local import start as start_dynamodb_local
from storage.factory import open_stores

REDIS_URL = "redis://127.0.0.1:6379/11"
QUERY = """query ($bbox: BoundingBoxInput) { flights(bbox: $bbox, first: 500) {
  totalCount nodes { icao24 callsign latitude longitude baroAltitudeM trueTrackDeg } } }"""
VIEWS = [
    {"south": 34.0, "west": -25.0, "north": 72.0, "east": 45.0},  # Europe
    {"south": 24.0, "west": -125.0, "north": 50.0, "east": -66.0},  # contiguous US
    {"south": 49.5, "west": -11.0, "north": 61.0, "east": 2.0},  # British Isles
    {"south": 20.0, "west": 100.0, "north": 45.0, "east": 145.0},  # East Asia
    {"south": -45.0, "west": 110.0, "north": -10.0, "east": 155.0},  # Australia
]


def run() -> dict[str, float]:
    print("AWS backend on local engines: DynamoDB Local + Redis cache")
    engine = start_dynamodb_local()
    try:
        with TemporaryDirectory() as tmp:
            tables = engine.create(engine.names(tmp))
            settings = Settings.from_env(
                {},
                data_dir=Path(tmp),
                backend="aws",
                dynamodb_endpoint_url=engine.endpoint,
                dynamodb_flights_table=tables.flights,
                dynamodb_airports_table=tables.airports,
                dynamodb_ops_table=tables.ops,
                s3_raw_bucket="unused",
                aws_region="eu-west-1",
                live_window_s=1e9,
            )
            return _measure(replace(settings, s3_raw_bucket="", redis_url=REDIS_URL))
    finally:
        engine.stop()


def _measure(settings: Settings) -> dict[str, float]:
    import os

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    stores = open_stores(settings)
    cache = stores.cache
    assert stores.redis is not None
    assert cache is not None
    stores.redis.flushdb()
    pipeline = build_pipeline(settings, stores, None)
    replay = ReplaySource()
    start = time.perf_counter()
    report = pipeline.process("replay", replay.advance(), replay.normalise)
    ingest_s = time.perf_counter() - start
    line("ingest into DynamoDB Local", f"{report.received / ingest_s:,.0f} states/s")

    schema = build_schema()

    async def query(view: dict[str, float]) -> float:
        ctx = Context(stores=stores, settings=settings, loaders=make_loaders(stores, settings))
        began = time.perf_counter()
        result = await schema.execute(QUERY, variable_values={"bbox": view}, context_value=ctx)
        assert result.errors is None, result.errors
        return time.perf_counter() - began

    async def workload() -> tuple[list[float], list[float]]:
        cold, warm = [], []
        for _ in range(10):
            cache.invalidate_flights()
            cold += [await query(v) for v in VIEWS]
            warm += [await query(v) for v in VIEWS]
        return cold, warm

    cold, warm = asyncio.run(workload())
    line(
        "flights(bbox) cold cache median / p95",
        f"{median(cold) * 1e3:.1f} / {p95(cold) * 1e3:.1f} ms",
    )
    line(
        "flights(bbox) warm cache median / p95",
        f"{median(warm) * 1e3:.1f} / {p95(warm) * 1e3:.1f} ms",
    )

    hits, misses = cache.hits, cache.misses

    async def dashboards() -> None:
        for _cycle in range(3):
            cache.on_event(
                FlightDataProcessed(
                    source="replay", cycle_id="", received=1, stored=1, rejected=0, duplicates=0
                )
            )
            for _poll in range(5):  # every 2 s within a 10 s cycle
                for _viewer in range(20):
                    for view in VIEWS:
                        await query(view)

    asyncio.run(dashboards())
    ratio = (cache.hits - hits) / (cache.hits - hits + cache.misses - misses)
    line("cache hit ratio, dashboard workload", f"{ratio:.1%}  (floor 80 %)")
    stores.redis.flushdb()
    stores.close()
    return {
        "dynamodb_ingest_states_per_s": report.received / ingest_s,
        "cold_median_ms": statistics.median(cold) * 1e3,
        "warm_median_ms": statistics.median(warm) * 1e3,
        "hit_ratio": ratio,
    }


if __name__ == "__main__":
    tune_gc()
    run()
