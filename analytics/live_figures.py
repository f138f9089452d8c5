"""The live figures in plain Python: the queries of ``analytics/sql`` that the live figures
run, answered over ``FlightState`` objects, row for row as DuckDB answers them over the same
states loaded as ``analytics.live.states_table`` (a test compares the two).

Each query returns the rows of its grouping sets: one per group with ``is_total`` 0, and
the total counting each aircraft once, its group columns ``None`` and ``is_total`` one bit
per group column (as SQL's ``GROUPING`` sets them). A state
counts when its time lies in ``[since, until)``, its UTC day in ``[first_day, last_day]``
and, as each file says, it has a position. No DuckDB: the API answers live figures without
importing it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from domain import FlightState

Row = tuple[Any, ...]
_TICK = timedelta(microseconds=1)


def _day(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d}"


def _in_scope(states: Iterable[FlightState], values: Mapping[str, Any]) -> list[FlightState]:
    """The states of the time and day filters that have a position. When the days are those
    of ``since`` and of the last instant before ``until`` (as ``analytics.flights.Scope``
    gives them) in four-digit years, every time in ``[since, until)`` lies in them, and they
    are not checked state by state."""
    since, until = values["since"], values["until"]
    first, last = values["first_day"], values["last_day"]
    positioned = [s for s in states if s.latitude is not None and s.longitude is not None]
    timed = [s for s in positioned if since <= s.time < until]
    four_digits = since.astimezone(UTC).year >= 1000
    implied = four_digits and (first, last) == (_day(since), _day(until - _TICK))
    return timed if implied else [s for s in timed if first <= _day(s.time) <= last]


def _grouped(seen: Iterable[tuple[str, tuple[Hashable, ...]]], width: int) -> list[Row]:
    """Distinct aircraft per group of ``(icao24, group)`` pairs, then the total row."""
    groups: defaultdict[tuple[Hashable, ...], set[str]] = defaultdict(set)
    everyone: set[str] = set()
    for icao24, group in seen:
        groups[group].add(icao24)
        everyone.add(icao24)
    rows: list[Row] = [(0, *group, len(found)) for group, found in groups.items()]
    return [*rows, ((1 << width) - 1, *([None] * width), len(everyone))]


def region_counts(states: Sequence[FlightState], values: Mapping[str, Any]) -> list[Row]:
    """``region_counts.sql``: aircraft per region (``unknown`` without one)."""
    seen = ((s.icao24, (s.region or "unknown",)) for s in _in_scope(states, values))
    return _grouped(seen, 1)


def country_counts(states: Sequence[FlightState], values: Mapping[str, Any]) -> list[Row]:
    """``country_counts.sql``: aircraft per country of registration (``None`` unknown)."""
    seen = ((s.icao24, (s.origin_country,)) for s in _in_scope(states, values))
    return _grouped(seen, 1)


def _band(state: FlightState, bucket_m: float) -> tuple[str, int | None]:
    altitude = state.baro_altitude_m
    if altitude is None:
        altitude = state.geo_altitude_m
    if state.on_ground:
        return "ground", None
    if altitude is None:
        return "unknown", None
    return "air", math.floor(altitude / bucket_m)


def altitude_histogram(states: Sequence[FlightState], values: Mapping[str, Any]) -> list[Row]:
    """``altitude_histogram.sql``: aircraft per kind and band of ``bucket_m`` metres."""
    bucket_m = float(values["bucket_m"])
    seen = ((s.icao24, _band(s, bucket_m)) for s in _in_scope(states, values))
    return _grouped(seen, 2)


def _in_box(latitude: float, longitude: float, values: Mapping[str, Any]) -> bool:
    if not values["south"] <= latitude <= values["north"]:
        return False
    west, east = values["west"], values["east"]
    if values["crosses"]:
        return bool(longitude >= west or longitude <= east)
    return bool(west <= longitude <= east)


def _cell(latitude: float, longitude: float, cell_deg: float, top_row: int) -> tuple[int, int]:
    row = min(math.floor(latitude / cell_deg + 1e-9), top_row)
    wrapped = longitude - 360 if longitude >= 180 else longitude
    return row, math.floor(wrapped / cell_deg + 1e-9)


def traffic_density(states: Sequence[FlightState], values: Mapping[str, Any]) -> list[Row]:
    """``traffic_density.sql``: aircraft per grid cell of ``cell_deg`` inside the box."""
    cell_deg, top_row = float(values["cell_deg"]), int(values["top_row"])
    seen = (
        (s.icao24, _cell(s.latitude, s.longitude, cell_deg, top_row))
        for s in _in_scope(states, values)
        if s.latitude is not None
        and s.longitude is not None
        and _in_box(s.latitude, s.longitude, values)
    )
    return _grouped(seen, 2)


QUERIES: dict[str, Callable[[Sequence[FlightState], Mapping[str, Any]], list[Row]]] = {
    "region_counts": region_counts,
    "country_counts": country_counts,
    "altitude_histogram": altitude_histogram,
    "traffic_density": traffic_density,
}


class StatesEngine:
    """Runs the live figures' queries over a sequence of ``FlightState``. Stateless, so
    thread-safe."""

    def rows(
        self, name: str, flights: Sequence[FlightState], values: Mapping[str, Any]
    ) -> list[Row]:
        """The rows of query ``name`` (a key of ``QUERIES``) over ``flights``."""
        return QUERIES[name](flights, values)
