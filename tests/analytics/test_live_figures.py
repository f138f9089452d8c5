"""The live figures in plain Python answer exactly what the SQL answers on DuckDB over the
same states: the same rows, and the same results (order, ties, nulls, bands and cells)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from analytics import flights
from analytics.engine import FlightsEngine
from analytics.live import states_table
from analytics.live_figures import StatesEngine
from analytics.results import Basis
from domain import BoundingBox, FlightState
from domain.geo import REGIONS
from testkit import T0, make_state

_T = datetime(2026, 12, 5, 23, 58, tzinfo=UTC)  # the windows cross midnight


def _maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | values


def _number(low: float, high: float, *edges: float) -> st.SearchStrategy[float]:
    finite = st.floats(low, high, allow_nan=False, allow_infinity=False)
    return finite | st.sampled_from([low, high, *edges])


_times = st.integers(-300, 300).map(lambda s: _T + timedelta(seconds=s, microseconds=s % 7))
_states = st.builds(
    lambda icao24, at, lat, lon, baro, geo, ground, country, region: make_state(
        icao24,
        at,
        latitude=lat,
        longitude=lon,
        baro_altitude_m=baro,
        geo_altitude_m=geo,
        on_ground=ground,
        origin_country=country,
        region=region,
    ),
    st.sampled_from(["aaa111", "bbb222", "ccc333", "ddd444", "eee555", "fff666"]),
    _times,
    _maybe(_number(-90, 90, 0.0, -0.0, 45.0, -45.0, 89.9999999999, 0.1, 0.3)),
    _maybe(_number(-180, 180, 0.0, -0.0, 179.99999, -179.5, 0.3, 2.35)),
    _maybe(_number(-500, 25_000, 0.0, 999.9999, 1000.0, 3000.0, -0.0)),
    _maybe(_number(-500, 25_000, 0.0, 1000.0)),
    st.booleans(),
    _maybe(st.sampled_from(["", "France", "Germany", "United States", "ÿ"])),
    _maybe(st.sampled_from([*REGIONS, "unknown", "elsewhere"])),
)


@st.composite
def _boxes(draw: st.DrawFn) -> BoundingBox:
    south, north = sorted(draw(st.lists(_number(-90, 90, 0.0), min_size=2, max_size=2)))
    west, east = draw(st.lists(_number(-180, 180, 0.0), min_size=2, max_size=2))
    return BoundingBox(south, west, north, east)


def _scopes(states: list[FlightState], basis: Basis, start: datetime, end: datetime) -> Any:
    sql = flights.Scope(states_table(states), start, end, basis)
    python = flights.Scope(tuple(states), start, end, basis)
    return sql, python


def _same(run: Any, sql: flights.Scope, python: flights.Scope) -> None:
    assert run(StatesEngine(), python) == run(FlightsEngine(), sql)


@examples(max_examples=150, deadline=None)
@given(
    states=st.lists(_states, max_size=30),
    basis=st.sampled_from([Basis.LIVE, Basis.PARQUET]),
    start=_times,
    length_s=st.integers(0, 400),
    bucket_m=_number(50, 10_000, 100.0, 1000.0, 333.3),
    cell_deg=_number(0.05, 45, 0.1, 0.3, 1.0, 2.5),
    bbox=_maybe(_boxes()),
)
def test_each_live_figure_is_the_sqls_answer(
    states: list[FlightState],
    basis: Basis,
    start: datetime,
    length_s: int,
    bucket_m: float,
    cell_deg: float,
    bbox: BoundingBox | None,
) -> None:
    sql, python = _scopes(states, basis, start, start + timedelta(seconds=length_s))
    _same(flights.region_counts, sql, python)
    _same(flights.country_counts, sql, python)
    _same(lambda e, s: flights.altitude_histogram(e, s, bucket_m), sql, python)
    _same(lambda e, s: flights.traffic_density(e, s, cell_deg, bbox), sql, python)


_DAYS = st.sampled_from(["1970-01-01", "2026-12-05", "2026-12-06", "9999-12-30"])


@examples(max_examples=80, deadline=None)
@given(
    states=st.lists(_states, max_size=30),
    bucket_m=_number(50, 10_000, 1000.0),
    days=st.lists(_DAYS, min_size=2, max_size=2).map(sorted),
)
def test_the_rows_are_the_sqls_rows(
    states: list[FlightState], bucket_m: float, days: list[str]
) -> None:
    sql, python = _scopes(states, Basis.LIVE, T0, T0)
    values = {**sql.values(), "bucket_m": bucket_m, "first_day": days[0], "last_day": days[1]}
    for name in ("region_counts", "country_counts", "altitude_histogram"):
        found = StatesEngine().rows(name, python.flights, values)
        expected = FlightsEngine().rows(name, sql.flights, values)
        assert sorted(map(repr, found)) == sorted(map(repr, expected)), name


def test_a_figure_counts_each_aircraft_once_per_group() -> None:
    states = [
        make_state("aaa111", region="europe"),
        make_state("aaa111", T0 - timedelta(seconds=1), region="europe"),
        make_state("bbb222", region="europe", latitude=None),
        make_state("ccc333", region=None),
    ]
    scope = flights.Scope(tuple(states), T0, T0, Basis.LIVE)
    found = flights.region_counts(StatesEngine(), scope)
    counts = {r.region: r.aircraft for r in found.regions}
    assert (found.aircraft, counts["europe"], counts["unknown"]) == (2, 1, 1)
