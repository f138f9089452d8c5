"""Busiest airports and route statistics (origin to destination), from flight legs.

A departure is a leg whose ``departed_at`` lies in the window and whose departure airport
is known; an arrival, a leg whose ``arrived_at`` lies in it with a known arrival airport.
Route statistics take the legs that arrived in the window between two known airports and,
per origin and destination: how many, the median time from departure to arrival, the
airports' great-circle distance and the median distance flown. Departures and arrivals
add up across windows; medians do not.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from analytics.results import AirportTraffic, RouteStat
from domain.leg import Leg
from storage.base import LegRepository

# Longer than any flight: a leg that departed in a window has arrived by this after it.
MAX_LEG = timedelta(hours=24)


def legs(routes: LegRepository, start: datetime, end: datetime, now: datetime) -> list[Leg]:
    """Every stored leg that departed or arrived in ``[start, end)``, and some others: the
    legs that arrived from ``start`` to a day after ``end`` and those still in flight."""
    arrived = routes.completed(start, min(end + MAX_LEG, max(now, end)))
    found = {(r.icao24, r.departed_at): r for r in routes.in_flight(start)}
    found |= {(r.icao24, r.departed_at): r for r in arrived}  # an arrival replaces its leg
    return list(found.values())


def _within(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def busiest_airports(found: Iterable[Leg], start: datetime, end: datetime) -> list[AirportTraffic]:
    """Airports with departures or arrivals in the window, busiest first."""
    departures: Counter[str] = Counter()
    arrivals: Counter[str] = Counter()
    for leg in found:
        if leg.departure_icao and _within(leg.departed_at, start, end):
            departures[leg.departure_icao] += 1
        if leg.arrival_icao and _within(leg.arrived_at, start, end):
            arrivals[leg.arrival_icao] += 1
    return ranked_airports(departures, arrivals)


def ranked_airports(departures: Counter[str], arrivals: Counter[str]) -> list[AirportTraffic]:
    airports = [
        AirportTraffic(icao=code, departures=departures[code], arrivals=arrivals[code])
        for code in departures.keys() | arrivals.keys()
    ]
    return sorted(airports, key=lambda a: (-a.movements, a.icao))


def merge_airports(days: Iterable[Sequence[AirportTraffic]]) -> list[AirportTraffic]:
    """The airports of several windows (whole days) as one."""
    departures: Counter[str] = Counter()
    arrivals: Counter[str] = Counter()
    for airports in days:
        for airport in airports:
            departures[airport.icao] += airport.departures
            arrivals[airport.icao] += airport.arrivals
    return ranked_airports(departures, arrivals)


def route_statistics(found: Iterable[Leg], start: datetime, end: datetime) -> list[RouteStat]:
    """Origin-destination pairs flown in the window, most flights first."""
    pairs: dict[tuple[str, str], list[Leg]] = defaultdict(list)
    for leg in found:
        if leg.departure_icao and leg.arrival_icao and _within(leg.arrived_at, start, end):
            pairs[leg.departure_icao, leg.arrival_icao].append(leg)
    stats = [_stat(origin, destination, flown) for (origin, destination), flown in pairs.items()]
    return sorted(stats, key=lambda s: (-s.flights, s.origin, s.destination))


def _stat(origin: str, destination: str, flown: list[Leg]) -> RouteStat:
    durations = [(r.arrived_at - r.departed_at).total_seconds() for r in flown if r.arrived_at]
    distances = [r.great_circle_km for r in flown if r.great_circle_km is not None]
    return RouteStat(
        origin=origin,
        destination=destination,
        flights=len(flown),
        median_duration_s=statistics.median(durations),
        distance_km=statistics.median(distances) if distances else None,
        median_flown_km=statistics.median(r.flown_km for r in flown),
    )
