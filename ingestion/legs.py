"""Route legs: from where an aircraft leaves the ground near an airport (or first shows up)
to where it lands.

``LegTracker`` holds the legs in flight in memory; it is not thread-safe: one per
pipeline, fed the states of each aircraft in time order. Thresholds are documented on the
class. Distances along a leg use the haversine formula; a completed leg's airport-to-airport
distance uses geopy's great circle.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from geopy.distance import great_circle

from domain import Airport, FlightState
from domain.geo import haversine_km
from domain.leg import FlightPhase, Leg
from storage.base import NearestAirport

log = logging.getLogger(__name__)

DEPARTURE_RADIUS_KM = 5.0
CLIMB_OUT_RADIUS_KM = 25.0
CLIMB_OUT_HEIGHT_M = 1_500.0
ARRIVAL_RADIUS_KM = 5.0
MAX_SEGMENT_SPEED_MPS = 400.0
MAX_GAP_S = 900.0
STALE_LEG_S = 6 * 3600.0
MIN_LEG_S = 60.0


@dataclass(frozen=True, slots=True)
class LegUpdate:
    """The leg a state belongs to (``None`` on the ground between legs); ``completed`` when
    this state ended it."""

    route: Leg | None
    completed: bool = False


_NO_LEG = LegUpdate(None)
_ROUTE_FIELDS = frozenset(Leg.model_fields)
_new = object.__new__
_set = object.__setattr__


def _trusted_leg(fields: dict[str, Any]) -> Leg:
    """A ``Leg`` from values built here, so valid already: skips validation the way
    ``FlightState.trusted`` does, since a cycle makes one per airborne state (0.7 µs
    instead of 1.5 µs). ``fields`` must name every field."""
    route = _new(Leg)
    _set(route, "__dict__", fields)
    _set(route, "__pydantic_fields_set__", _ROUTE_FIELDS)
    _set(route, "__pydantic_extra__", None)
    _set(route, "__pydantic_private__", None)
    return route


class _Flying:
    """A leg in flight; its last fix is a position and its time in epoch seconds."""

    __slots__ = (
        "callsign",
        "departed_at",
        "departure",
        "departure_icao",
        "fix_lat",
        "fix_lon",
        "fix_seen",
        "flown_km",
        "icao24",
        "last_seen",
    )

    def __init__(self, icao24: str, departed_at: datetime, departure: Airport | None) -> None:
        self.icao24 = icao24
        self.callsign: str | None = None
        self.departed_at = departed_at
        self.departure_icao = departure.icao if departure is not None else None
        self.departure = (
            (departure.latitude, departure.longitude) if departure is not None else None
        )
        self.flown_km = 0.0
        # No fix yet: NaN fails every comparison, so the first hop is never counted.
        self.fix_lat = self.fix_lon = self.fix_seen = math.nan
        self.last_seen: float | None = None

    def advance(self, state: FlightState, seen: float) -> None:
        """Count the distance from the last fix, unless the hop is a gap or a glitch."""
        self.last_seen = seen
        self.callsign = state.callsign or self.callsign
        lat, lon = state.latitude, state.longitude
        if lat is None or lon is None:
            return
        seconds = seen - self.fix_seen
        if 0.0 < seconds <= MAX_GAP_S:
            hop_km = haversine_km(self.fix_lat, self.fix_lon, lat, lon)
            if hop_km * 1000.0 <= MAX_SEGMENT_SPEED_MPS * seconds:
                self.flown_km += hop_km
        # Move on even after a glitch: were the old fix the bad one, staying on it would
        # refuse every later hop.
        self.fix_lat, self.fix_lon, self.fix_seen = lat, lon, seen

    def route(
        self,
        arrival_icao: str | None = None,
        arrived_at: datetime | None = None,
        great_circle_km: float | None = None,
    ) -> Leg:
        departure = self.departure
        if great_circle_km is None and departure is not None and not math.isnan(self.fix_seen):
            great_circle_km = haversine_km(departure[0], departure[1], self.fix_lat, self.fix_lon)
        return _trusted_leg(
            {
                "icao24": self.icao24,
                "callsign": self.callsign,
                "departure_icao": self.departure_icao,
                "departed_at": self.departed_at,
                "arrival_icao": arrival_icao,
                "arrived_at": arrived_at,
                "great_circle_km": great_circle_km,
                "flown_km": self.flown_km,
            }
        )


def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two ``(latitude, longitude)`` (geopy, mean radius).

    Equal to ``domain.geo.haversine_km`` within 1e-7 (the same sphere); that one is used
    for the hops of ``flown_km`` because geopy takes about 6 µs a call against 0.5 µs.
    """
    return float(great_circle(a, b).km)


def _height_above(state: FlightState, airport: Airport) -> float | None:
    altitude = state.altitude_m
    if altitude is None:
        return None
    return altitude - (airport.elevation_m or 0.0)


def _departure(
    state: FlightState, phase: FlightPhase, nearest: NearestAirport | None
) -> Airport | None:
    """The airport a leg first seen in ``state`` left from, when the state tells."""
    if nearest is None or phase not in (FlightPhase.TAKEOFF, FlightPhase.CLIMB):
        return None
    if phase is FlightPhase.TAKEOFF and nearest.distance_km <= DEPARTURE_RADIUS_KM:
        return nearest.airport
    height = _height_above(state, nearest.airport)
    climbing_out = height is not None and height < CLIMB_OUT_HEIGHT_M
    return nearest.airport if climbing_out and nearest.distance_km <= CLIMB_OUT_RADIUS_KM else None


class LegTracker:
    """The leg each aircraft is flying, kept in memory. Not thread-safe; one per pipeline.

    A leg starts at the first airborne state after the aircraft was on the ground or
    unseen. Its departure airport is the nearest airport when the state is TAKEOFF within
    ``DEPARTURE_RADIUS_KM`` (5 km: a runway end is at most about 3 km from the airport's
    reference point, plus one 10 s report at take-off speed), or TAKEOFF or CLIMB less than
    ``CLIMB_OUT_HEIGHT_M`` (1,500 m) above an airport within ``CLIMB_OUT_RADIUS_KM`` (25 km,
    where a climb at a 6 % gradient reaches 1,500 m: receivers often miss the first minute
    of a flight). Otherwise the departure is unknown and ``departed_at`` is when the
    aircraft was first seen.

    ``flown_km`` sums the great-circle hops between consecutive positions, leaving out
    gaps over ``MAX_GAP_S`` (15 min: a straight line is no longer a fair guess of the path)
    and hops faster than ``MAX_SEGMENT_SPEED_MPS`` (400 m/s, above any airliner's ground
    speed even in a jet stream: a position glitch). While airborne, ``great_circle_km``
    runs from the departure airport to the current position.

    The leg ends at the first on-ground state: the arrival airport is the nearest within
    ``ARRIVAL_RADIUS_KM`` (5 km) and ``great_circle_km`` the airports' distance (geopy). A
    leg back to its departure airport within ``MIN_LEG_S`` (60 s) is on-ground flicker
    during taxi or the take-off roll and is dropped. A leg unseen for ``STALE_LEG_S``
    (6 h) is dropped when the aircraft reappears: it most likely landed out of coverage.
    """

    def __init__(self) -> None:
        self._legs: dict[str, _Flying] = {}

    def __len__(self) -> int:
        return len(self._legs)

    def active(self, icao24: str) -> Leg | None:
        """The leg ``icao24`` is flying, or ``None``."""
        leg = self._legs.get(icao24)
        return leg.route() if leg is not None else None

    def update(
        self, state: FlightState, phase: FlightPhase, nearest: NearestAirport | None
    ) -> LegUpdate:
        """Advance the aircraft's leg with ``state``; start or end it as the state says."""
        route = self._track(state, phase, nearest)
        if route is None:
            return _NO_LEG
        return LegUpdate(route, completed=route.arrived_at is not None)

    def _track(
        self, state: FlightState, phase: FlightPhase, nearest: NearestAirport | None
    ) -> Leg | None:
        """``update`` without the wrapper: a route with ``arrived_at`` is a completed one."""
        seen = state.time.timestamp()
        leg = self._legs.get(state.icao24)
        if leg is not None and leg.last_seen is not None:
            if seen < leg.last_seen:  # late: the leg has moved on without it
                return leg.route()
            if seen - leg.last_seen > STALE_LEG_S:
                del self._legs[state.icao24]
                leg = None
        if state.on_ground or phase is FlightPhase.LANDING:
            return None if leg is None else self._arrive(leg, state, seen, nearest)
        if leg is None:
            leg = _Flying(state.icao24, state.time, _departure(state, phase, nearest))
            self._legs[state.icao24] = leg
        leg.advance(state, seen)
        return leg.route()

    def _arrive(
        self, leg: _Flying, state: FlightState, seen: float, nearest: NearestAirport | None
    ) -> Leg | None:
        del self._legs[leg.icao24]
        leg.advance(state, seen)
        if nearest is None or nearest.distance_km > ARRIVAL_RADIUS_KM:
            return leg.route(arrived_at=state.time)
        arrival = nearest.airport
        airborne_s = (state.time - leg.departed_at).total_seconds()
        if arrival.icao == leg.departure_icao and airborne_s < MIN_LEG_S:
            return None
        distance = None
        if leg.departure is not None:
            distance = great_circle_km(leg.departure, (arrival.latitude, arrival.longitude))
        return leg.route(arrival.icao, state.time, distance)

    def load(
        self,
        routes: Iterable[Leg],
        *,
        locate: Callable[[Sequence[str]], Mapping[str, Airport]] | None = None,
    ) -> int:
        """Restore legs in flight (routes with no arrival) after a restart; returns how many.

        ``locate`` (e.g. ``AirportRepository.many_by_icao``) finds the departure airports;
        without it ``great_circle_km`` stays ``None`` until the leg ends. The last position
        of each leg is unknown until ``resume`` or the next ``update``.
        """
        active = [r for r in routes if r.arrived_at is None]
        codes = sorted({r.departure_icao for r in active if r.departure_icao is not None})
        airports = locate(codes) if locate is not None and codes else {}
        for route in active:
            leg = _Flying(route.icao24, route.departed_at, airports.get(route.departure_icao or ""))
            leg.departure_icao = route.departure_icao  # known even when not located
            leg.callsign = route.callsign
            leg.flown_km = route.flown_km
            self._legs[route.icao24] = leg
        return len(active)

    def resume(self, state: FlightState) -> None:
        """Take ``state``, the aircraft's last stored state, as the last fix of its leg."""
        leg = self._legs.get(state.icao24)
        if leg is None:
            return
        seen = state.time.timestamp()
        leg.last_seen = seen
        if state.latitude is not None and state.longitude is not None:
            leg.fix_lat, leg.fix_lon, leg.fix_seen = state.latitude, state.longitude, seen

    def prune(self, before: datetime) -> int:
        """Forget legs last seen (or, not seen since a restart, departed) before ``before``."""
        cutoff = before.timestamp()
        stale = [code for code, leg in self._legs.items() if _last_seen(leg) < cutoff]
        for code in stale:
            del self._legs[code]
        return len(stale)


def _last_seen(leg: _Flying) -> float:
    return leg.last_seen if leg.last_seen is not None else leg.departed_at.timestamp()


# --- Nearest airports ---------------------------------------------------------------------
