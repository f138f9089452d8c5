"""Enrichment: what a validated state means beyond its fields.

For each state: the named world region and a grid cell, the origin country (from the ICAO
24-bit address block when the source sent none), the nearest airport within a radius, the
flight phase, and the aircraft's current route leg.

``grid_cell`` and ``classify_phase`` are pure. ``LegTracker`` (legs in flight) and
``Enricher`` (the previous state of each aircraft) hold state in memory; neither is
thread-safe: one of each per pipeline, fed states of one aircraft in time order. States
older than the last one seen of their aircraft change nothing. Nearest airports come from a
batch look-up such as ``storage.spatial.NearestAirports``.

Altitudes are metres above mean sea level: barometric (pressure altitude, which may be off
by a few hundred metres from true altitude), else geometric. Heights are metres above the
nearest airport, or above sea level when no airport is near. Vertical rates are m/s, up
positive.

Phase thresholds (SI, chosen from how airliners and light aircraft fly):

- ``CLIMB_RATE_MPS`` 1.5 m/s (about 300 ft/min): ADS-B rates move in 64 ft/min
  (0.33 m/s) steps and level flight wanders by up to about 1 m/s; airliners climb and
  descend at 5 to 15 m/s.
- ``TAKEOFF_HEIGHT_M`` 450 m (1,500 ft): where the take-off segment ends and the
  en-route climb starts (ICAO noise-abatement procedures).
- ``APPROACH_HEIGHT_M`` 3,000 m (about 10,000 ft): approach procedures and the 250 kt
  terminal-area speed limit start about there; a 3° glide path reaches it about 57 km out.
- ``CRUISE_ALTITUDE_M`` 6,000 m (about FL200): jets cruise above it; level flight below
  it is a step in a climb or descent, or a low cruise.
- ``LEVEL_BAND_M`` 60 m: the altitude change between states (when the vertical rate says
  level) that still counts as level; twice the usual 25 ft baro quantisation plus noise.
- ``HISTORY_MAX_AGE_S`` 300 s: a previous state older than this says nothing about a
  transition (coverage gaps of hours are common).

Leg thresholds are documented on ``LegTracker``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain import FlightState
from domain.geo import region_of
from domain.leg import FlightPhase, Leg
from ingestion.icao_blocks import country_of
from ingestion.legs import LegTracker
from storage.base import NearestAirport, StoreUnavailable

log = logging.getLogger(__name__)

CLIMB_RATE_MPS = 1.5
TAKEOFF_HEIGHT_M = 450.0
APPROACH_HEIGHT_M = 3_000.0
CRUISE_ALTITUDE_M = 6_000.0
LEVEL_BAND_M = 60.0
HISTORY_MAX_AGE_S = 300.0
# Airports are looked up only below this altitude (or on or just off the ground, or with
# no altitude): the phase (APPROACH) and the route (departure, arrival) only use an
# airport there, and flights at cruise are most of the states.
AIRPORT_LOOKUP_ALTITUDE_M = APPROACH_HEIGHT_M

NearestLookup = Callable[[Sequence[tuple[float, float]]], list[NearestAirport | None]]
"""For each ``(latitude, longitude)``, the nearest airport within the lookup's radius."""


def grid_cell(latitude: float, longitude: float, size_deg: float = 1.0) -> str:
    """The id of the ``size_deg`` square cell holding a position: ``"ROW:COL"``.

    ``ROW = floor(latitude / size_deg)`` and ``COL = floor(longitude / size_deg)``, so the
    cell spans ``[ROW * size_deg, (ROW + 1) * size_deg)`` in latitude and likewise in
    longitude: ``grid_cell(51.47, -0.45) == "51:-1"``. Longitude 180 is the antimeridian,
    so it falls in the cell of -180; latitude 90 falls in the northernmost row. Ids of
    different sizes are not comparable. Raises ``ValueError`` unless ``size_deg > 0``.
    """
    if not size_deg > 0:
        raise ValueError(f"size_deg must be positive, got {size_deg}")
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise ValueError(f"position must be finite, got ({latitude}, {longitude})")
    return _grid_id(latitude, longitude, size_deg, math.ceil(90.0 / size_deg) - 1)


def _grid_id(latitude: float, longitude: float, size_deg: float, top_row: int) -> str:
    # A tolerance of 1e-9 cell keeps 51.3 with 0.1 cells in row 513, not 512.99999.
    row = min(math.floor(latitude / size_deg + 1e-9), top_row)
    lon = (longitude + 180.0) % 360.0 - 180.0
    return f"{row}:{math.floor(lon / size_deg + 1e-9)}"


def _recent(state: FlightState, previous: FlightState | None) -> FlightState | None:
    """``previous`` when it can tell a transition: not later than ``state``, nor stale."""
    if previous is None:
        return None
    age = (state.time - previous.time).total_seconds()
    return previous if 0.0 <= age <= HISTORY_MAX_AGE_S else None


def _climb(state: FlightState, previous: FlightState | None) -> float:
    """Altitude change since ``previous`` in metres, same kind of altitude only; else 0."""
    if previous is None:
        return 0.0
    if state.baro_altitude_m is not None and previous.baro_altitude_m is not None:
        return state.baro_altitude_m - previous.baro_altitude_m
    if state.geo_altitude_m is not None and previous.geo_altitude_m is not None:
        return state.geo_altitude_m - previous.geo_altitude_m
    return 0.0


def _vertical_rate(state: FlightState, previous: FlightState | None) -> float | None:
    """The reported rate, else the rate since a recent previous state."""
    if state.vertical_rate_mps is not None:
        return state.vertical_rate_mps
    previous = _recent(state, previous)
    if previous is None:
        return None
    seconds = (state.time - previous.time).total_seconds()
    return _climb(state, previous) / seconds if seconds > 0 else None


def classify_phase(
    state: FlightState,
    previous: FlightState | None,
    *,
    airport_elevation_m: float | None = None,
) -> FlightPhase:
    """The phase of flight of ``state``, given the aircraft's previous state.

    ``airport_elevation_m`` is the elevation of the nearest airport when one is near
    (``None`` otherwise); it turns altitudes into heights and a low descent into an
    approach. ``previous`` counts only if at most ``HISTORY_MAX_AGE_S`` older. In order:

    1. on the ground: LANDING if airborne just before, else GROUND;
    2. airborne after being on the ground: TAKEOFF;
    3. climbing (vertical rate, else the rate since ``previous``): TAKEOFF below
       ``TAKEOFF_HEIGHT_M``, else CLIMB;
    4. descending: APPROACH below ``APPROACH_HEIGHT_M`` with an airport near, else DESCENT;
    5. level: CRUISE at or above ``CRUISE_ALTITUDE_M``; below it, CLIMB or DESCENT when
       the altitude moved more than ``LEVEL_BAND_M`` since ``previous``, else CRUISE.
       With no altitude at all, level is CRUISE.

    Total: any field may be ``None``; never raises.
    """
    # Only a change of on_ground needs the age check: the common case stays cheap.
    changed = previous is not None and previous.on_ground != state.on_ground
    if changed and _recent(state, previous) is not None:
        return FlightPhase.LANDING if state.on_ground else FlightPhase.TAKEOFF
    if state.on_ground:
        return FlightPhase.GROUND
    rate = _vertical_rate(state, previous)
    altitude = state.altitude_m
    if altitude is None:
        return _by_rate(rate, FlightPhase.CRUISE)
    height = altitude - (airport_elevation_m or 0.0)
    if rate is not None and rate > CLIMB_RATE_MPS:
        return FlightPhase.TAKEOFF if height < TAKEOFF_HEIGHT_M else FlightPhase.CLIMB
    if rate is not None and rate < -CLIMB_RATE_MPS:
        near = airport_elevation_m is not None and height < APPROACH_HEIGHT_M
        return FlightPhase.APPROACH if near else FlightPhase.DESCENT
    if altitude >= CRUISE_ALTITUDE_M:
        return FlightPhase.CRUISE
    # Level now but low: a step in a climb or descent shows in the trend since last time.
    return _by_rate(_climb(state, _recent(state, previous)), FlightPhase.CRUISE, LEVEL_BAND_M)


def _by_rate(
    rate: float | None, level: FlightPhase, threshold: float = CLIMB_RATE_MPS
) -> FlightPhase:
    """CLIMB or DESCENT when ``rate`` passes ``threshold`` either way, else ``level``."""
    if rate is not None and rate > threshold:
        return FlightPhase.CLIMB
    if rate is not None and rate < -threshold:
        return FlightPhase.DESCENT
    return level


# --- Routes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enrichment:
    """What enrichment adds to one state. ``grid_cell`` is ``None`` without a position."""

    region: str
    grid_cell: str | None
    origin_country: str | None
    phase: FlightPhase
    nearest_airport_icao: str | None
    nearest_airport_km: float | None
    route: Leg | None


class Enricher:
    """Enriches batches of states. Holds the previous state of each aircraft and a
    ``LegTracker``: not thread-safe, one per pipeline; feed each aircraft's states in
    time order (a late state is enriched but changes no history).

    ``nearest`` is called once per batch with the positions that need an airport: on or
    just off the ground, below ``AIRPORT_LOOKUP_ALTITUDE_M``, or with no altitude. The
    phase (APPROACH) and the route (departure, arrival) use an airport only there, and
    skipping flights at cruise, most of the states, keeps a batch fast; those get no
    nearest airport. An aircraft on the ground that has not moved keeps its airport
    without a new look-up.

    After a restart: ``legs.load(...)`` the legs in flight, then ``prime(...)`` with the
    latest stored states.
    """

    def __init__(
        self,
        nearest: NearestLookup,
        *,
        legs: LegTracker | None = None,
        cell_size_deg: float = 1.0,
    ) -> None:
        self._nearest = nearest
        self._legs = legs if legs is not None else LegTracker()
        grid_cell(0.0, 0.0, cell_size_deg)  # fail here, not at the first batch
        self._cell_size = cell_size_deg
        self._top_row = math.ceil(90.0 / cell_size_deg) - 1
        self._previous: dict[str, FlightState] = {}
        self._parked: dict[str, tuple[float, float, NearestAirport | None]] = {}

    @property
    def legs(self) -> LegTracker:
        return self._legs

    def prime(self, states: Iterable[FlightState]) -> None:
        """Seed the previous state of each aircraft, e.g. from the store after a restart."""
        for state in states:
            previous = self._previous.get(state.icao24)
            if previous is None or state.time >= previous.time:
                self._previous[state.icao24] = state
                self._legs.resume(state)

    def prune(self, before: datetime) -> int:
        """Forget aircraft last seen before ``before`` and their legs; returns how many."""
        gone = [code for code, state in self._previous.items() if state.time < before]
        for code in gone:
            del self._previous[code]
            self._parked.pop(code, None)
        self._legs.prune(before)
        return len(gone)

    def enrich(self, states: Sequence[FlightState]) -> list[Enrichment]:
        """One ``Enrichment`` per state, in order."""
        airports = self._airports(states)
        # One loop with local names: this runs for every state of every cycle.
        previous_of, track = self._previous, self._legs._track
        size, top_row = self._cell_size, self._top_row
        enriched = []
        for state, near in zip(states, airports, strict=True):
            code = state.icao24
            previous = previous_of.get(code)
            elevation = None if near is None else near.airport.elevation_m or 0.0
            phase = classify_phase(state, previous, airport_elevation_m=elevation)
            route = track(state, phase, near)
            if previous is None or state.time >= previous.time:
                previous_of[code] = state
            lat, lon = state.latitude, state.longitude
            enriched.append(
                Enrichment(
                    region_of(lat, lon),
                    None if lat is None or lon is None else _grid_id(lat, lon, size, top_row),
                    state.origin_country or (None if state.non_icao else country_of(code)),
                    phase,
                    None if near is None else near.airport.icao,
                    None if near is None else near.distance_km,
                    route,
                )
            )
        return enriched

    def _airports(self, states: Sequence[FlightState]) -> list[NearestAirport | None]:
        """The nearest airport of each state that wants one, from one batch look-up."""
        found: list[NearestAirport | None] = [None] * len(states)
        points: list[tuple[float, float]] = []
        where: list[int] = []
        previous_of, parked_at = self._previous, self._parked.get
        for index, state in enumerate(states):
            lat, lon = state.latitude, state.longitude
            if lat is None or lon is None:
                continue
            if not state.on_ground:
                altitude = state.altitude_m
                if altitude is not None and altitude >= AIRPORT_LOOKUP_ALTITUDE_M:
                    # Still wanted just off the ground, as at an airport high up.
                    previous = previous_of.get(state.icao24)
                    if previous is None or not previous.on_ground:
                        continue
            parked = parked_at(state.icao24)
            if parked is not None and parked[0] == lat and parked[1] == lon:
                found[index] = parked[2]
            else:
                points.append((lat, lon))
                where.append(index)
        if not points:
            return found
        for index, (lat, lon), near in zip(where, points, self._lookup(points), strict=True):
            found[index] = near
            if states[index].on_ground:
                self._parked[states[index].icao24] = (lat, lon, near)
        return found

    def _lookup(self, points: list[tuple[float, float]]) -> list[NearestAirport | None]:
        try:
            return self._nearest(points)
        except StoreUnavailable:
            # Airports only add meaning; states must still be stored without them.
            log.warning("nearest-airport look-up failed; enriching without airports")
            return [None] * len(points)
