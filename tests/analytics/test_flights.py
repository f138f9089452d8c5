"""The flight-state queries (``analytics/sql`` through DuckDB) over real Parquet written by
the pipeline, checked against the same rows counted in Python, and over the live states."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from recorded_day import CYCLES, DAY, RecordedDay

from analytics import flights
from analytics.engine import Engine, FlightsEngine, QueryFailed
from analytics.files import LocalProcessed
from analytics.live import snapshot, states_table
from analytics.live_figures import StatesEngine
from analytics.params import day_window
from analytics.results import Basis
from domain import BoundingBox
from domain.geo import REGIONS
from ingestion.enricher import grid_cell

ENGINE = FlightsEngine()
Rows = list[dict[str, Any]]


def scope(recorded: RecordedDay, start: datetime, end: datetime) -> flights.Scope:
    days = sorted({start.date(), (end - timedelta(microseconds=1)).date()})
    dataset = LocalProcessed(recorded.settings.data_dir).dataset(days)
    return flights.Scope(dataset, start, end, Basis.PARQUET)


def day_scope(recorded: RecordedDay) -> flights.Scope:
    window = day_window(DAY)
    return scope(recorded, window.start, window.end)


def positioned(rows: Rows, start: datetime, end: datetime) -> Rows:
    return [
        r
        for r in rows
        if start <= r["time"] < end and r["latitude"] is not None and r["longitude"] is not None
    ]


def distinct_by(rows: Rows, key: Any) -> dict[Any, int]:
    seen: dict[Any, set[str]] = defaultdict(set)
    for row in rows:
        seen[key(row)].add(row["icao24"])
    return {k: len(v) for k, v in seen.items()}


@pytest.fixture(scope="module")
def day_rows(recorded: RecordedDay) -> Rows:
    window = day_window(DAY)
    return positioned(recorded.parquet_rows(), window.start, window.end)


def test_every_stored_state_is_in_the_parquet(recorded: RecordedDay, day_rows: Rows) -> None:
    assert len(recorded.parquet_rows()) == sum(r.stored for r in recorded.reports) > 1_000
    assert 400 < len({r["icao24"] for r in day_rows}) <= 500
    assert {r["time"].date() for r in day_rows} == {DAY}


def test_region_counts_are_distinct_aircraft_per_region(
    recorded: RecordedDay, day_rows: Rows
) -> None:
    result = flights.region_counts(ENGINE, day_scope(recorded))

    expected = distinct_by(day_rows, lambda r: r["region"] or "unknown")
    assert {c.region: c.aircraft for c in result.regions if c.aircraft} == expected
    assert {c.region for c in result.regions} >= set(REGIONS)
    assert result.aircraft == len({r["icao24"] for r in day_rows})
    assert result.basis is Basis.PARQUET
    # Aircraft that crossed from one region to another count in both.
    assert sum(c.aircraft for c in result.regions) >= result.aircraft


def test_country_counts(recorded: RecordedDay, day_rows: Rows) -> None:
    result = flights.country_counts(ENGINE, day_scope(recorded))

    assert {c.country: c.aircraft for c in result.countries} == distinct_by(
        day_rows, lambda r: r["origin_country"]
    )
    assert result.countries[0].aircraft == max(c.aircraft for c in result.countries)
    assert result.aircraft == len({r["icao24"] for r in day_rows})


def test_altitude_histogram(recorded: RecordedDay, day_rows: Rows) -> None:
    result = flights.altitude_histogram(ENGINE, day_scope(recorded), 2000.0)

    def band(row: dict[str, Any]) -> Any:
        altitude = row["baro_altitude_m"]
        if altitude is None:
            altitude = row["geo_altitude_m"]
        if row["on_ground"]:
            return "ground"
        return "unknown" if altitude is None else math.floor(altitude / 2000.0) * 2000.0

    expected = distinct_by(day_rows, band)
    assert result.on_ground == expected.pop("ground", 0)
    assert result.without_altitude == expected.pop("unknown", 0)
    assert {b.low_m: b.aircraft for b in result.buckets if b.aircraft} == expected
    lows = [b.low_m for b in result.buckets]
    assert lows == [lows[0] + 2000.0 * n for n in range(len(lows))]  # no band skipped


@pytest.mark.parametrize(
    "box",
    [
        None,
        BoundingBox(35.0, -10.0, 60.0, 30.0),
        BoundingBox(-50.0, 150.0, 10.0, -150.0),  # across the antimeridian
    ],
)
def test_traffic_density_uses_the_enrichment_grid(
    recorded: RecordedDay, day_rows: Rows, box: BoundingBox | None
) -> None:
    result = flights.traffic_density(ENGINE, day_scope(recorded), 0.5, box)

    def inside(row: dict[str, Any]) -> bool:
        if box is None:
            return True
        lon, lat = row["longitude"], row["latitude"]
        in_lon = (
            (lon >= box.west or lon <= box.east)
            if box.crosses_antimeridian
            else box.west <= lon <= box.east
        )
        return box.south <= lat <= box.north and in_lon

    rows = [r for r in day_rows if inside(r)]
    expected = distinct_by(rows, lambda r: grid_cell(r["latitude"], r["longitude"], 0.5))
    assert {f"{c.row}:{c.col}": c.aircraft for c in result.cells} == expected
    assert result.aircraft == len({r["icao24"] for r in rows}) > 0
    assert [(c.row, c.col) for c in result.cells] == sorted((c.row, c.col) for c in result.cells)


def test_a_window_counts_only_its_states(recorded: RecordedDay) -> None:
    first, second = CYCLES[0], CYCLES[1]
    rows = recorded.parquet_rows()

    one = flights.region_counts(ENGINE, scope(recorded, first, second))
    both = flights.region_counts(ENGINE, scope(recorded, first, second + timedelta(seconds=1)))

    assert one.aircraft == len({r["icao24"] for r in positioned(rows, first, second)})
    assert both.aircraft == len(
        {r["icao24"] for r in positioned(rows, first, second + timedelta(seconds=1))}
    )
    assert one.start == first
    assert one.end == second


def test_windows_across_midnight_read_both_days(recorded: RecordedDay) -> None:
    start, end = CYCLES[2], CYCLES[3] + timedelta(minutes=1)
    rows = positioned(recorded.parquet_rows(), start, end)

    result = flights.region_counts(ENGINE, scope(recorded, start, end))

    assert {r["time"].date() for r in rows} == {CYCLES[2].date(), CYCLES[3].date()}
    assert result.aircraft == len({r["icao24"] for r in rows})


def test_a_day_without_files_counts_nothing(recorded: RecordedDay) -> None:
    window = day_window(DAY - timedelta(days=30))
    empty = scope(recorded, window.start, window.end)

    assert flights.region_counts(ENGINE, empty).aircraft == 0
    assert flights.traffic_density(ENGINE, empty, 1.0, None).cells == []
    histogram = flights.altitude_histogram(ENGINE, empty, 1000.0)
    assert (histogram.aircraft, histogram.buckets) == (0, [])
    assert flights.day_totals(ENGINE, empty) == (0, 0)


@pytest.mark.parametrize("in_python", [True, False], ids=["python", "duckdb"])
def test_live_counts_are_the_latest_states_and_add_up(
    recorded: RecordedDay, in_python: bool
) -> None:
    live = snapshot(recorded.stores.flights, recorded.settings.live_window_s)
    relation = live.states if in_python else states_table(live.states)
    engine: Engine = StatesEngine() if in_python else ENGINE
    scope_ = flights.Scope(relation, live.since or CYCLES[-1], CYCLES[-1], Basis.LIVE)

    regions = flights.region_counts(engine, scope_)
    histogram = flights.altitude_histogram(engine, scope_, 1000.0)
    density = flights.traffic_density(engine, scope_, 1.0, None)

    assert live.as_of is not None
    assert live.as_of >= CYCLES[-1] - timedelta(minutes=5)
    assert regions.aircraft == live.total == len(live.states) > 400
    assert sum(c.aircraft for c in regions.regions) == live.total
    in_bands = sum(b.aircraft for b in histogram.buckets)
    assert in_bands + histogram.on_ground + histogram.without_altitude == live.total
    assert sum(c.aircraft for c in density.cells) == density.aircraft == live.total


def test_a_relation_without_the_columns_fails_as_a_query_error() -> None:
    import pyarrow as pa

    with pytest.raises(QueryFailed, match="region_counts"):
        flights.region_counts(
            ENGINE,
            flights.Scope(
                pa.table({"x": [1]}),
                datetime(2026, 1, 1, tzinfo=UTC),
                datetime(2026, 1, 2, tzinfo=UTC),
                Basis.PARQUET,
            ),
        )
