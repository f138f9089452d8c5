"""Analytics queries over one day of replayed data: the median time of each, in-process.

The day is yesterday (UTC), so that it is a whole past day as in production:

- Parquet: the real 5,485-state snapshot replayed at 288 shifted times, one cycle every
  5 minutes from 00:00 (``ReplaySource``: re-stamped and moved by dead reckoning), each
  cycle validated, given its region, and flushed by ``ProcessedWriter`` as ingest flushes
  every 5 minutes: about 1.55 million states in some 2,300 files. Phase and nearest
  airport are not computed (the queries do not read them).
- Cycle reports: one per cycle, with its received, stored and rejected counts.
- Flight legs: the replay never lands an aircraft, so route detection would complete none;
  ``LEGS`` synthetic legs between 300 airports with an IATA code, spread over the day.
- Live states: the last cycle stored by the pipeline.

After the daily processor, the day is compacted (``analytics.compaction``: one file per
region) and the 6-hour windows are timed again.

The live snapshot (every live state, read again once per cycle and process) is timed on
its own. Each query is one ``schema.execute`` (parse, validate, resolve, DuckDB or Python), with no
cache (the embedded default has no Redis), ``REPEAT`` times after one warm-up.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, date, datetime, timedelta

from bench._common import line, median, scratch_settings, timed
from config import Settings
from domain import FlightState, Leg
from domain.cycle import CycleReport
from domain.geo import haversine_km, region_of
from ingestion.pipeline import Pipeline
from ingestion.reference import airportsdata_airports
from ingestion.replay import ReplaySource
from ingestion.validate import validate
from resolvers.root import build_schema
from runtime.process import tune_gc
from runtime.stores import open_stores
from schema.context import Context, make_loaders
from storage.processed import LocalSink, ProcessedWriter
from storage.stores import Stores

CYCLES = 288
LEGS = 20_000
REPEAT = 5
# Seconds a query took, and the basis of its answer.
Sample = tuple[float, str]


def _replay_day(settings: Settings, stores: Stores, day: date) -> int:
    """Writes the day's Parquet and cycle reports; stores the last cycle. Returns states."""
    start = datetime.combine(day, datetime.min.time(), UTC)
    times = iter(start.timestamp() + 300.0 * n for n in range(CYCLES))
    source = ReplaySource(clock=lambda: next(times))
    writer = ProcessedWriter(LocalSink(settings.data_dir))
    written = 0
    for n in range(CYCLES):
        payload = source.advance()
        normalised = source.normalise(payload)
        states, rejects = validate(normalised.candidates, observed_at=normalised.observed_at)
        states = [_with_region(s) for s in states]
        writer.add(states)
        writer.flush()
        written += len(states)
        at = start + timedelta(minutes=5 * n)
        report = CycleReport(source=source.name, started_at=at, cycle_id=f"bench-{n}")
        report.received = len(normalised.candidates)
        report.stored, report.rejected = len(states), len(rejects)
        report.reasons.update(r.reason for r in rejects)
        report.finished_at = at + timedelta(seconds=1)
        stores.cycles.put_cycle(report)
    Pipeline(stores.flights, stores.dead_letters).process(source.name, payload, source.normalise)
    return written


def _with_region(state: FlightState) -> FlightState:
    return FlightState.trusted(
        {**state.__dict__, "region": region_of(state.latitude, state.longitude)}
    )


def _legs(day: date) -> list[Leg]:
    rng = random.Random(1)
    airports = sorted((a for a in airportsdata_airports() if a.iata), key=lambda a: a.icao)
    chosen = rng.sample(airports, 300)
    start = datetime.combine(day, datetime.min.time(), UTC)
    legs = []
    for n in range(LEGS):
        origin, destination = rng.sample(chosen, 2)
        km = haversine_km(
            origin.latitude, origin.longitude, destination.latitude, destination.longitude
        )
        departed = start + timedelta(seconds=rng.uniform(0, 86_400 - 3_600))
        legs.append(
            Leg(
                icao24=f"{n:06x}",
                departure_icao=origin.icao,
                departed_at=departed,
                arrival_icao=destination.icao,
                arrived_at=departed + timedelta(seconds=1_800 + km / 0.23),
                great_circle_km=km,
                flown_km=km * rng.uniform(1.01, 1.1),
            )
        )
    return legs


def _snapshot_s(settings: Settings, stores: Stores) -> float:
    """The median time to read the live states again, as the API does once per cycle."""
    from analytics.live import snapshot

    return median(timed(lambda: snapshot(stores.flights, settings.live_window_s), REPEAT))


def _queries(day: date) -> dict[str, str]:
    """Each query by label; every one asks for its answer's ``basis``."""
    part = f"{day}T12:00:00Z/{day}T18:00:00Z"
    fields = {
        "regionCounts": "regionCounts{w} {{ basis aircraft regions {{ region aircraft }} }}",
        "countryCounts": "countryCounts{w} {{ basis aircraft countries {{ country aircraft }} }}",
        "altitudeHistogram": "altitudeHistogram{w} {{ basis aircraft buckets {{ lowM }} }}",
        "trafficDensity": "trafficDensity{w} {{ basis aircraft cells {{ row col aircraft }} }}",
    }
    windows = (("live", ""), ("day", f'(window: "{day}")'), ("6 h", f'(window: "{part}")'))
    queries = {
        f"{name}, {label}": "{ analytics { " + field.format(w=window) + " } }"
        for label, window in windows
        for name, field in fields.items()
    }
    for name, field in (
        ("busiestAirports", "busiestAirports(window: DAY) { basis airports { icao movements } }"),
        ("routeStatistics", "routeStatistics(window: DAY) { basis routes { origin flights } }"),
        ("dataQuality", "dataQuality(window: DAY) { basis received sources { missedCycles } }"),
    ):
        queries[f"{name}, day"] = "{ analytics { " + field.replace("DAY", f'"{day}"') + " } }"
    return queries


def _measure(settings: Settings, stores: Stores, queries: dict[str, str]) -> dict[str, Sample]:
    """The median time of each query, and where its answer came from."""
    schema = build_schema()

    async def once(query: str) -> Sample:
        ctx = Context(stores=stores, settings=settings, loaders=make_loaders(stores, settings))
        start = time.perf_counter()
        result = await schema.execute(query, context_value=ctx)
        elapsed = time.perf_counter() - start
        assert result.errors is None, result.errors
        assert result.data is not None
        [answer] = result.data["analytics"].values()
        return elapsed, str(answer["basis"])

    async def measure() -> dict[str, Sample]:
        timings = {}
        for label, query in queries.items():
            await once(query)
            samples = [await once(query) for _ in range(REPEAT)]
            timings[label] = (median([s[0] for s in samples]), samples[-1][1])
        return timings

    return asyncio.run(measure())


def run() -> dict[str, float]:
    print(f"analytics over one day of replayed data ({CYCLES} cycles, 5 min apart), in-process")
    day = (datetime.now(UTC) - timedelta(days=1)).date()
    with scratch_settings() as settings:
        stores = open_stores(settings)
        started = time.perf_counter()
        states = _replay_day(settings, stores, day)
        stores.legs.put_legs(_legs(day))
        files = sum(1 for _ in (settings.data_dir / "processed").rglob("*.parquet"))
        took = time.perf_counter() - started
        line("day generated", f"{states:,} states, {files:,} files, {LEGS:,} legs ({took:.0f} s)")
        line(
            "live snapshot (read once per cycle)", f"{_snapshot_s(settings, stores) * 1000:.1f} ms"
        )
        queries = _queries(day)
        before = _measure(settings, stores, queries)
        from analytics.daily import build_processor

        processor = build_processor(settings, stores.legs, stores.cycles)
        started = time.perf_counter()
        processor.run(day)
        daily_s = time.perf_counter() - started
        after = _measure(settings, stores, {k: q for k, q in queries.items() if ", day" in k})
        from analytics.compaction import build_compactor

        started = time.perf_counter()
        build_compactor(settings).compact_day(day)
        compact_s = time.perf_counter() - started
        compact_files = sum(1 for _ in (settings.data_dir / "processed").rglob("*.parquet"))
        windows = {k: q for k, q in queries.items() if ", 6 h" in k}
        compacted = _measure(settings, stores, windows)
        stores.close()
    figures: dict[str, float] = {}
    for label, (seconds, basis) in before.items():
        line(f"{label} ({basis})", f"{seconds * 1000:,.1f} ms")
        figures[f"{label} {basis}"] = seconds * 1000
    line("daily processor (flightdata analytics daily)", f"{daily_s:.2f} s")
    for label, (seconds, basis) in after.items():
        line(f"{label} ({basis})", f"{seconds * 1000:,.1f} ms")
        figures[f"{label} {basis}"] = seconds * 1000
    figures["daily_processor_s"] = daily_s
    line("compaction (flightdata analytics compact)", f"{compact_s:.2f} s, {compact_files} files")
    for label, (seconds, basis) in compacted.items():
        line(f"{label} ({basis}, compacted)", f"{seconds * 1000:,.1f} ms")
        figures[f"{label} {basis} compacted"] = seconds * 1000
    figures["compaction_s"] = compact_s
    return figures


if __name__ == "__main__":
    tune_gc()
    run()
