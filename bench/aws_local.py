"""The AWS backend on local engines: DynamoDB Local for the stores, a Redis server of its
own (``devtools.redis_server``) for the live index and the response cache
(``python -m bench.aws_local``).

- ingest of the real 5,485-state snapshot into DynamoDB Local (states/s): the first cycle
  into empty tables (every aircraft, every route leg new; the engine's JIT still cold),
  then ``--cycles`` more 10 s apart by the replay's clock (every state new each time),
  with the client's CPU a cycle, which bounds a process against DynamoDB itself;
- ``flights(bbox)`` with a cold cache (every page a miss) and a warm one (median, p95);
- the cache hit ratio under a dashboard workload: 20 viewers each polling the same five
  map views every 2 s while the snapshot is ingested every 10 s (each cycle retires
  every cached page), for three cycles;
- with Redis down, the same views over the last 5 minutes from ``RegionTimeIndex`` (the
  fallback) and, for comparison, from the latest items.

``--no-streams`` creates the flights table without its stream, to see what DynamoDB
Local's stream costs (the deployed table keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from bench._common import line, median, p95
from config import Settings
from devtools.dynamodb_local import CREDENTIALS
from devtools.dynamodb_local import start as start_dynamodb_local
from devtools.redis_server import start as start_redis_server
from domain import BoundingBox
from domain.events import FlightDataProcessed
from ingestion.pipeline import Pipeline
from ingestion.replay import ReplaySource
from resolvers.root import build_schema
from runtime.ingest import build_pipeline
from runtime.process import tune_gc
from runtime.stores import open_stores
from schema.context import Context, make_loaders
from storage.base import FlightFilter
from storage.dynamodb import DynamoStores, create_tables
from storage.stores import Stores

CYCLE_S = 10.0
QUERY = """query ($bbox: BoundingBoxInput) { flights(bbox: $bbox, first: 500) {
  totalCount nodes { icao24 callsign latitude longitude baroAltitudeM trueTrackDeg } } }"""
VIEWS = [
    {"south": 34.0, "west": -25.0, "north": 72.0, "east": 45.0},  # Europe
    {"south": 24.0, "west": -125.0, "north": 50.0, "east": -66.0},  # contiguous US
    {"south": 49.5, "west": -11.0, "north": 61.0, "east": 2.0},  # British Isles
    {"south": 20.0, "west": 100.0, "north": 45.0, "east": 145.0},  # East Asia
    {"south": -45.0, "west": 110.0, "north": -10.0, "east": 155.0},  # Australia
]


def run(cycles: int = 4, streams: bool = True) -> dict[str, float]:
    print("AWS backend on local engines: DynamoDB Local + Redis cache")
    engine = start_dynamodb_local()
    own_redis = start_redis_server()
    try:
        with TemporaryDirectory() as tmp:
            tables = engine.names(tmp)
            create_tables(engine.client, tables, streams=streams)
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
            return _measure(
                replace(settings, s3_raw_bucket="", redis_url=own_redis.url(11)), cycles
            )
    finally:
        own_redis.stop()
        engine.stop()


def _measure(settings: Settings, cycles: int) -> dict[str, float]:
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name.upper(), value)
    stores = open_stores(settings)
    cache = stores.cache
    assert stores.redis is not None
    assert cache is not None
    stores.redis.execute_command("FLUSHDB")
    pipeline = build_pipeline(settings, stores, None)
    figures = _ingest(pipeline, cycles)

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
    figures |= _redis_down(stores, cycles + 1)
    stores.redis.execute_command("FLUSHDB")
    stores.close()
    return figures | {
        "cold_median_ms": statistics.median(cold) * 1e3,
        "warm_median_ms": statistics.median(warm) * 1e3,
        "hit_ratio": ratio,
    }


def _ingest(pipeline: Pipeline, cycles: int) -> dict[str, float]:
    """The first cycle, then ``cycles`` more, ``CYCLE_S`` apart by the replay's clock."""
    start = time.time() - CYCLE_S * cycles
    steps = iter(start + CYCLE_S * n for n in range(cycles + 1))
    replay = ReplaySource(clock=lambda: next(steps))
    rates, cpu = [], []
    for _ in range(cycles + 1):
        payload = replay.advance()
        began, began_cpu = time.perf_counter(), time.process_time()
        report = pipeline.process("replay", payload, replay.normalise)
        rates.append(report.received / (time.perf_counter() - began))
        cpu.append(time.process_time() - began_cpu)
    first = rates[0]
    line("ingest into DynamoDB Local, first cycle", f"{first:,.0f} states/s")
    later = median(rates[1:]) if cycles else first
    line(
        f"ingest, {cycles} cycles more, median",
        f"{later:,.0f} states/s, client CPU {median(cpu[1:] or cpu):.2f} s a cycle",
    )
    return {"dynamodb_ingest_states_per_s": first, "dynamodb_ingest_later_states_per_s": later}


def _redis_down(stores: Stores, cycles: int) -> dict[str, float]:
    """The five views over the last 5 minutes, as the fallback answers them with Redis
    down, and as the latest items would. The index holds ``cycles`` reports of each
    aircraft in that window; a live deployment, one every 10 s: 30, and 30 more in the
    position-age margin before it."""
    assert isinstance(stores.backend, DynamoStores)
    flights = stores.backend.flights
    newest = flights.newest_contact()
    assert newest is not None
    since = newest - timedelta(minutes=5)
    filters = [FlightFilter(bbox=BoundingBox(**view), since=since) for view in VIEWS]

    def timed(search: Callable[[FlightFilter], object]) -> list[float]:
        times = []
        for _ in range(3):
            for flt in filters:
                began = time.perf_counter()
                search(flt)
                times.append(time.perf_counter() - began)
        return times

    index = timed(lambda f: flights.search_recent(f, first=500))
    latest = timed(lambda f: flights.search_latest(f, first=500))
    same = sum(
        flights.search_recent(f, first=500) == flights.search_latest(f, first=500) for f in filters
    )
    print(f"  with Redis down, {cycles} cycles of states in the index:")
    line(
        "  RegionTimeIndex median / p95",
        f"{median(index) * 1e3:.0f} / {p95(index) * 1e3:.0f} ms",
    )
    line(
        "  the latest items instead",
        f"{median(latest) * 1e3:.0f} / {p95(latest) * 1e3:.0f} ms; same answers: {same} of 5",
    )
    return {"fallback_index_median_ms": median(index) * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.aws_local", description=__doc__)
    parser.add_argument("--cycles", type=int, default=4, help="ingest cycles after the first")
    parser.add_argument("--no-streams", action="store_true", help="flights table without stream")
    args = parser.parse_args()
    tune_gc()
    run(cycles=args.cycles, streams=not args.no_streams)


if __name__ == "__main__":
    main()
