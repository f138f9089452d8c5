"""Enrichment: grid cells, flight phases, route legs, nearest airports and the batch enricher."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

import pytest
from geopy.distance import great_circle
from hypothesis import given
from hypothesis import strategies as st

from domain import Airport, FlightState, Source
from domain.geo import REGIONS, haversine_km
from domain.leg import FlightPhase, Leg
from ingestion.enricher import AIRPORT_LOOKUP_ALTITUDE_M, Enricher, classify_phase, grid_cell
from ingestion.legs import LegTracker, great_circle_km
from ingestion.reference import airportsdata_airports
from ingestion.replay import ReplaySource
from ingestion.validate import validate
from storage.base import NearestAirport, StoreUnavailable
from storage.spatial import AirportGrid, NearestAirports
from testkit import T0, make_state

P = FlightPhase
ICAO = "4ca7b1"
# On Heathrow's northern runway and beside Charles de Gaulle's southern pair.
EGLL_RUNWAY = (51.4775, -0.4600)
LFPG_RUNWAY = (49.0200, 2.5400)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ground(seconds: float, position: tuple[float, float], **fields: Any) -> FlightState:
    values: dict[str, Any] = {
        "on_ground": True,
        "baro_altitude_m": None,
        "geo_altitude_m": None,
        "vertical_rate_mps": None,
        "velocity_mps": 8.0,
    }
    values.update(fields)
    return make_state(ICAO, at(seconds), latitude=position[0], longitude=position[1], **values)


def air(
    seconds: float, position: tuple[float, float], altitude: float, rate: float, **fields: Any
) -> FlightState:
    return make_state(
        ICAO,
        at(seconds),
        latitude=position[0],
        longitude=position[1],
        baro_altitude_m=altitude,
        vertical_rate_mps=rate,
        **fields,
    )


@pytest.fixture(scope="module")
def airports() -> list[Airport]:
    return airportsdata_airports()


@pytest.fixture(scope="module")
def by_icao(airports: list[Airport]) -> dict[str, Airport]:
    return {a.icao: a for a in airports}


@pytest.fixture(scope="module")
def index(airports: list[Airport]) -> NearestAirports:
    return NearestAirports(airports, 50.0)


# --- grid_cell ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latitude", "longitude", "size", "cell"),
    [
        (51.47, -0.45, 1.0, "51:-1"),
        (0.0, 0.0, 1.0, "0:0"),
        (-0.1, -0.1, 1.0, "-1:-1"),
        (90.0, 10.0, 1.0, "89:10"),  # the pole joins the northernmost row
        (-90.0, 10.0, 1.0, "-90:10"),
        (10.0, 180.0, 1.0, "10:-180"),  # the antimeridian is -180
        (10.0, -180.0, 1.0, "10:-180"),
        (10.0, 179.999, 1.0, "10:179"),
        (51.3, 2.35, 0.1, "513:23"),  # 51.3 / 0.1 is 512.999...
        (51.47, -0.45, 0.5, "102:-1"),
        (90.0, 180.0, 0.5, "179:-360"),
        (45.0, 45.0, 7.0, "6:6"),
        (90.0, 0.0, 7.0, "12:0"),  # 13 rows of 7° reach 91°
    ],
)
def test_grid_cell(latitude: float, longitude: float, size: float, cell: str) -> None:
    assert grid_cell(latitude, longitude, size) == cell


@pytest.mark.parametrize("size", [0.0, -1.0, math.nan])
def test_grid_cell_size_must_be_positive(size: float) -> None:
    with pytest.raises(ValueError, match="size_deg must be positive"):
        grid_cell(0.0, 0.0, size)


def test_grid_cell_position_must_be_finite() -> None:
    with pytest.raises(ValueError, match="position must be finite"):
        grid_cell(math.nan, 0.0)


def test_enricher_rejects_a_bad_cell_size_when_built() -> None:
    with pytest.raises(ValueError, match="size_deg"):
        Enricher(lambda points: [None] * len(points), cell_size_deg=0.0)


# --- classify_phase -----------------------------------------------------------------------

ON_GROUND = "ground"
Altitude = float | str | None  # metres, ON_GROUND, or unknown

Now = tuple[Altitude, float | None]  # altitude, vertical rate
Before = tuple[Altitude, float]  # altitude, seconds ago
PHASES: list[tuple[str, Now, Before | None, float | None, FlightPhase]] = [
    # id, (altitude, vertical rate) now, (altitude, seconds ago) before, airport elevation
    ("ground", (ON_GROUND, None), None, None, P.GROUND),
    ("still-ground", (ON_GROUND, None), (ON_GROUND, 10), 25.0, P.GROUND),
    ("touchdown", (ON_GROUND, None), (60.0, 10), 25.0, P.LANDING),
    ("touchdown-after-a-gap", (ON_GROUND, None), (60.0, 1200), 25.0, P.GROUND),
    ("lift-off", (200.0, 10.0), (ON_GROUND, 10), 25.0, P.TAKEOFF),
    ("lift-off-long-ago", (10_000.0, 0.0), (ON_GROUND, 3600), None, P.CRUISE),
    ("previous-is-later", (10_000.0, 0.0), (ON_GROUND, -10), None, P.CRUISE),
    ("low-and-climbing", (300.0, 8.0), None, 25.0, P.TAKEOFF),
    ("low-over-a-high-airport", (1_900.0, 8.0), None, 1_656.0, P.TAKEOFF),
    ("climbing-no-airport", (1_900.0, 8.0), None, None, P.CLIMB),
    ("climb", (2_000.0, 8.0), None, 25.0, P.CLIMB),
    ("cruise-with-noise", (11_000.0, 1.0), None, None, P.CRUISE),
    ("descent", (8_000.0, -10.0), None, None, P.DESCENT),
    ("approach", (2_000.0, -5.0), None, 100.0, P.APPROACH),
    ("low-descent-no-airport", (2_000.0, -5.0), None, None, P.DESCENT),
    ("descent-above-approach-height", (4_000.0, -5.0), None, 100.0, P.DESCENT),
    ("level-low-after-climbing", (4_000.0, 0.0), (3_800.0, 30), None, P.CLIMB),
    ("level-low-after-descending", (4_000.0, 0.0), (4_300.0, 30), None, P.DESCENT),
    ("level-low", (4_000.0, 0.0), (4_020.0, 30), None, P.CRUISE),
    ("level-low-stale-trend", (4_000.0, 0.0), (3_000.0, 1200), None, P.CRUISE),
    ("rate-from-previous", (5_000.0, None), (4_000.0, 60), None, P.CLIMB),
    ("no-altitude-climbing", (None, 5.0), None, None, P.CLIMB),
    ("no-altitude-no-rate", (None, None), None, None, P.CRUISE),
]


def _phase_state(altitude: Altitude, seconds: float, rate: float | None = None) -> FlightState:
    if altitude == ON_GROUND:
        return make_state(ICAO, at(seconds), on_ground=True, baro_altitude_m=None)
    return make_state(ICAO, at(seconds), baro_altitude_m=altitude, vertical_rate_mps=rate)


@pytest.mark.parametrize(
    ("now", "before", "elevation", "phase"), [p[1:] for p in PHASES], ids=[p[0] for p in PHASES]
)
def test_classify_phase(
    now: tuple[Altitude, float | None],
    before: tuple[Altitude, float] | None,
    elevation: float | None,
    phase: FlightPhase,
) -> None:
    state = _phase_state(now[0], 0, now[1])
    previous = None if before is None else _phase_state(before[0], -before[1])
    assert classify_phase(state, previous, airport_elevation_m=elevation) is phase


def test_classify_phase_falls_back_to_the_geometric_altitude() -> None:
    state = make_state(baro_altitude_m=None, geo_altitude_m=2_000.0, vertical_rate_mps=-5.0)
    assert classify_phase(state, None, airport_elevation_m=100.0) is P.APPROACH


_altitudes = st.none() | st.floats(-500, 25_000)
_states = st.builds(
    make_state,
    st.just(ICAO),
    st.integers(-7200, 7200).map(at),
    on_ground=st.booleans(),
    latitude=st.none() | st.floats(-90, 90),
    longitude=st.none() | st.floats(-180, 180),
    baro_altitude_m=_altitudes,
    geo_altitude_m=_altitudes,
    vertical_rate_mps=st.none() | st.floats(-150, 150),
    velocity_mps=st.none() | st.floats(0, 600),
)


@given(_states, st.none() | _states, st.none() | st.floats(-500, 5_000))
def test_classify_phase_is_total(
    state: FlightState, previous: FlightState | None, elevation: float | None
) -> None:
    assert classify_phase(state, previous, airport_elevation_m=elevation) in FlightPhase


# --- A whole flight -----------------------------------------------------------------------


def heathrow_to_paris() -> list[FlightState]:
    """Taxi at Heathrow, take off, climb, cruise at 10 km, descend and land at CDG: 30 s
    reports, about 230 m/s."""
    states = [ground(0, EGLL_RUNWAY), ground(20, EGLL_RUNWAY, velocity_mps=60.0)]
    lift_off = (51.4780, -0.4900)
    steps = 50
    for i in range(steps):
        f = i / steps
        position = (
            lift_off[0] + (LFPG_RUNWAY[0] - lift_off[0]) * f,
            lift_off[1] + (LFPG_RUNWAY[1] - lift_off[1]) * f,
        )
        if f < 0.3:
            altitude, rate = 100.0 + 9_900.0 * f / 0.3, 11.0
        elif f < 0.6:
            altitude, rate = 10_000.0, 0.0
        else:
            altitude, rate = 100.0 + 9_900.0 * (1.0 - f) / 0.4, -9.0
        states.append(air(40 + 30 * i, position, altitude, rate))
    states.append(ground(40 + 30 * steps, LFPG_RUNWAY))
    return states


def test_a_flight_from_heathrow_to_paris_completes_its_route(
    index: NearestAirports, by_icao: dict[str, Airport]
) -> None:
    enricher = Enricher(index)
    flight = heathrow_to_paris()
    enriched = [enricher.enrich([state])[0] for state in flight]

    phases = [phase for phase, _ in groupby(e.phase for e in enriched)]
    assert phases == [P.GROUND, P.TAKEOFF, P.CLIMB, P.CRUISE, P.DESCENT, P.APPROACH, P.LANDING]
    assert [e.route for e in enriched[:2]] == [None, None]
    for e in enriched[2:-1]:
        assert e.route is not None
        assert (e.route.departure_icao, e.route.arrival_icao) == ("EGLL", None)
    landed = enriched[-1].route
    assert landed is not None
    assert (landed.departure_icao, landed.arrival_icao) == ("EGLL", "LFPG")
    assert (landed.departed_at, landed.arrived_at) == (flight[2].time, flight[-1].time)
    assert landed.callsign == "AFR1234"
    egll, lfpg = by_icao["EGLL"], by_icao["LFPG"]
    expected = great_circle((egll.latitude, egll.longitude), (lfpg.latitude, lfpg.longitude)).km
    assert landed.great_circle_km == pytest.approx(expected, rel=1e-12)
    assert landed.great_circle_km == pytest.approx(348, abs=1.5)
    assert landed.great_circle_km <= landed.flown_km <= 1.05 * landed.great_circle_km
    assert enricher.legs.active(ICAO) is None

    # Taxiing in after the landing: no leg until the next take-off.
    assert enricher.enrich([ground(40 + 30 * 51, LFPG_RUNWAY)])[0].route is None


def test_the_tracker_says_when_a_leg_completes(index: NearestAirports) -> None:
    tracker = LegTracker()
    previous: FlightState | None = None
    updates = []
    for state in heathrow_to_paris():
        near = index.nearest(state.latitude or 0.0, state.longitude or 0.0)
        updates.append(tracker.update(state, classify_phase(state, previous), near))
        previous = state
    assert [u.completed for u in updates] == [False] * (len(updates) - 1) + [True]
    last = updates[-1].route
    assert last is not None
    assert last.arrival_icao == "LFPG"


def test_restart_resumes_the_leg_from_stored_routes_and_states(
    index: NearestAirports, by_icao: dict[str, Airport]
) -> None:
    flight = heathrow_to_paris()
    whole = Enricher(index).enrich(flight)[-1].route
    first, second = flight[:30], flight[30:]
    before = Enricher(index)
    before.enrich(first)
    stored = before.legs.active(ICAO)
    assert stored is not None

    after = Enricher(index)
    assert after.legs.load([stored], locate=lambda codes: {c: by_icao[c] for c in codes}) == 1
    after.prime([first[-1]])
    restored = after.legs.active(ICAO)
    assert restored is not None
    assert restored.great_circle_km == pytest.approx(stored.great_circle_km)
    landed = after.enrich(second)[-1].route
    assert landed is not None
    assert whole is not None
    assert landed.model_dump(exclude={"flown_km"}) == whole.model_dump(exclude={"flown_km"})
    assert landed.flown_km == pytest.approx(whole.flown_km, rel=1e-12)


def test_restart_without_locating_the_departure_has_no_great_circle(
    index: NearestAirports,
) -> None:
    flight = heathrow_to_paris()
    before = Enricher(index)
    before.enrich(flight[:30])
    stored = before.legs.active(ICAO)
    assert stored is not None
    completed = Leg(**{**stored.model_dump(), "arrival_icao": "LFPG", "arrived_at": at(1)})

    after = Enricher(index)
    assert after.legs.load([stored, completed.model_copy(update={"icao24": "abcdef"})]) == 1
    after.prime(flight[25:30])
    landed = after.enrich(flight[30:])[-1].route
    assert landed is not None
    assert (landed.departure_icao, landed.arrival_icao) == ("EGLL", "LFPG")
    assert landed.great_circle_km is None
    assert landed.flown_km > stored.flown_km


def test_prime_lets_a_take_off_after_a_restart_be_seen(index: NearestAirports) -> None:
    flight = heathrow_to_paris()
    primed = Enricher(index)
    primed.prime([flight[1], flight[0]])  # the newest wins, whatever the order
    take_off = primed.enrich([flight[2]])[0]
    assert take_off.phase is P.TAKEOFF
    assert take_off.route is not None
    assert take_off.route.departure_icao == "EGLL"

    cold = Enricher(index).enrich([flight[2]])[0]
    assert cold.phase is P.TAKEOFF  # low and climbing
    assert cold.route is not None
    assert cold.route.departure_icao == "EGLL"  # climbing out within reach of Heathrow


# --- Legs ---------------------------------------------------------------------------------


def _airport(icao: str, position: tuple[float, float], elevation_m: float = 0.0) -> Airport:
    return Airport(
        icao=icao, name=icao, latitude=position[0], longitude=position[1], elevation_m=elevation_m
    )


def _near(airport: Airport, state: FlightState) -> NearestAirport:
    assert state.latitude is not None
    assert state.longitude is not None
    distance = haversine_km(state.latitude, state.longitude, airport.latitude, airport.longitude)
    return NearestAirport(airport, distance)


def test_first_seen_airborne_has_an_unknown_departure() -> None:
    tracker = LegTracker()
    cruise = [air(30 * i, (50.0, 1.0 + 0.1 * i), 11_000.0, 0.0) for i in range(4)]
    routes = [tracker.update(s, P.CRUISE, None).route for s in cruise]
    assert all(r is not None for r in routes)
    first = routes[0]
    assert first is not None
    assert (first.departure_icao, first.departed_at, first.flown_km) == (None, at(0), 0.0)
    assert first.great_circle_km is None
    last = routes[-1]
    assert last is not None
    assert last.departed_at == at(0)
    hops = [haversine_km(50.0, 1.0 + 0.1 * i, 50.0, 1.1 + 0.1 * i) for i in range(3)]
    assert last.flown_km == pytest.approx(sum(hops), rel=1e-9)

    lfpg = _airport("LFPG", (49.0128, 2.55))
    landing = ground(200, LFPG_RUNWAY)
    update = tracker.update(landing, P.LANDING, _near(lfpg, landing))
    assert update.completed
    assert update.route is not None
    assert (update.route.departure_icao, update.route.arrival_icao) == (None, "LFPG")
    assert update.route.arrived_at == at(200)
    assert update.route.great_circle_km is None
    assert tracker.active(ICAO) is None
    assert len(tracker) == 0


@pytest.mark.parametrize(
    ("altitude", "offset_deg", "phase", "departure"),
    [
        (900.0, 0.1, P.CLIMB, "EGLL"),  # 1 km up, 11 km out: climbing out
        (2_000.0, 0.1, P.CLIMB, None),  # too high to tell where it came from
        (900.0, 0.3, P.CLIMB, None),  # 33 km out: too far
        (900.0, 0.1, P.CRUISE, None),  # not climbing
        (200.0, 0.03, P.TAKEOFF, "EGLL"),
    ],
)
def test_first_seen_climbing_out_near_an_airport(
    altitude: float, offset_deg: float, phase: FlightPhase, departure: str | None
) -> None:
    egll = _airport("EGLL", (51.4706, -0.46194), 25.0)
    state = air(0, (51.4706 + offset_deg, -0.46194), altitude, 10.0)
    route = LegTracker().update(state, phase, _near(egll, state)).route
    assert route is not None
    assert route.departure_icao == departure


def test_landing_far_from_any_airport_completes_with_no_arrival() -> None:
    tracker = LegTracker()
    tracker.update(air(0, (50.0, 1.0), 500.0, -3.0), P.DESCENT, None)
    update = tracker.update(ground(60, (50.0, 1.2)), P.LANDING, None)
    assert update.completed
    assert update.route is not None
    assert update.route.arrival_icao is None
    assert update.route.flown_km == pytest.approx(haversine_km(50.0, 1.0, 50.0, 1.2))


def test_on_ground_flicker_at_the_departure_airport_is_no_leg() -> None:
    egll = _airport("EGLL", (51.4706, -0.46194), 25.0)
    tracker = LegTracker()
    states = [
        ground(0, EGLL_RUNWAY),
        air(10, EGLL_RUNWAY, 50.0, 0.0),
        ground(20, EGLL_RUNWAY),
    ]
    phases = [P.GROUND, P.TAKEOFF, P.LANDING]
    updates = [tracker.update(s, p, _near(egll, s)) for s, p in zip(states, phases, strict=True)]
    assert updates[1].route is not None
    assert updates[2].route is None
    assert not updates[2].completed
    assert tracker.active(ICAO) is None


def test_flown_distance_skips_glitches_and_gaps_and_late_states() -> None:
    tracker = LegTracker()
    points = [
        (0, (50.0, 1.0)),
        (30, (50.0, 1.1)),
        (60, (54.0, 1.1)),  # 445 km in 30 s: a glitch
        (90, (50.0, 1.2)),  # back: as far, as fast
        (2_000, (50.0, 3.0)),  # after a 32 min gap
        (2_030, (50.0, 3.1)),
    ]
    route = None
    for seconds, position in points:
        route = tracker.update(air(seconds, position, 11_000.0, 0.0), P.CRUISE, None).route
    assert route is not None
    hop = haversine_km(50.0, 1.0, 50.0, 1.1)
    assert route.flown_km == pytest.approx(2 * hop, rel=1e-9)

    late = tracker.update(air(1_000, (10.0, 10.0), 11_000.0, 0.0), P.CRUISE, None)
    assert late.route == route
    assert tracker.active(ICAO) == route


def test_a_leg_unseen_for_hours_is_dropped() -> None:
    tracker = LegTracker()
    tracker.update(air(0, (50.0, 1.0), 11_000.0, 0.0), P.CRUISE, None)
    route = tracker.update(air(7 * 3600, (40.0, 1.0), 11_000.0, 0.0), P.CRUISE, None).route
    assert route is not None
    assert (route.departed_at, route.flown_km) == (at(7 * 3600), 0.0)


def test_prune_forgets_aircraft_not_seen_since(index: NearestAirports) -> None:
    enricher = Enricher(index)
    enricher.enrich([air(0, (50.0, 1.0), 11_000.0, 0.0), make_state("abcdef", at(100))])
    assert len(enricher.legs) == 2
    assert enricher.prune(at(50)) == 1
    assert enricher.legs.active(ICAO) is None
    assert enricher.legs.active("abcdef") is not None


def test_great_circle_km_is_geopy_and_agrees_with_haversine() -> None:
    for a, b in [(EGLL_RUNWAY, LFPG_RUNWAY), ((-33.9, 151.2), (51.5, -0.1)), ((0.0, 0.0),) * 2]:
        expected = great_circle(a, b).km
        assert great_circle_km(a, b) == pytest.approx(expected, rel=1e-12)
        assert haversine_km(*a, *b) == pytest.approx(expected, rel=1e-7, abs=1e-9)


# --- Nearest airports ---------------------------------------------------------------------


def test_nearest_airports_agree_with_the_airport_grid(airports: list[Airport]) -> None:
    grid = AirportGrid(airports)
    rng = random.Random(20240601)
    points = [(rng.uniform(-90, 90), rng.uniform(-180, 180)) for _ in range(300)]
    for a in rng.sample(airports, 300):
        lat = min(90.0, max(-90.0, a.latitude + rng.uniform(-0.6, 0.6)))
        points.append((lat, (a.longitude + rng.uniform(-0.6, 0.6) + 180) % 360 - 180))
    points += [(90.0, 0.0), (-90.0, 0.0), (89.9, 179.9), (-16.8, 180.0), (-16.8, -180.0)]
    points += [(51.9, -176.6), (78.2, 15.5), (64.8, -147.9)]
    for radius in (5.0, 50.0, 300.0):
        index = NearestAirports(airports, radius)
        for lat, lon in points:
            expected = grid.nearest(lat, lon, radius)
            found = index.nearest(lat, lon)
            assert (found is None) == (expected is None), (lat, lon, radius)
            if found is not None and expected is not None:
                assert found.distance_km == pytest.approx(expected.distance_km, abs=1e-6)


def test_nearest_airports_is_a_batch_lookup(index: NearestAirports) -> None:
    found = index([EGLL_RUNWAY, (0.0, -30.0), LFPG_RUNWAY])
    assert [n and n.airport.icao for n in found] == ["EGLL", None, "LFPG"]


# --- The enricher over the real snapshot --------------------------------------------------


@pytest.fixture(scope="module")
def snapshot() -> list[FlightState]:
    normalised = ReplaySource.normalise(ReplaySource().advance())
    states, _ = validate(normalised.candidates, observed_at=normalised.observed_at)
    return states


class CountingLookup:
    def __init__(self, lookup: NearestAirports) -> None:
        self.lookup = lookup
        self.calls: list[int] = []

    def __call__(self, points: Sequence[tuple[float, float]]) -> list[NearestAirport | None]:
        self.calls.append(len(points))
        return self.lookup(points)


def test_enricher_over_the_real_snapshot(
    snapshot: list[FlightState], index: NearestAirports
) -> None:
    lookup = CountingLookup(index)
    enriched = Enricher(lookup).enrich(snapshot)

    assert len(snapshot) > 5_000
    assert len(enriched) == len(snapshot)
    assert len(lookup.calls) == 1  # one batch
    assert 0 < lookup.calls[0] < len(snapshot) / 2
    for state, e in zip(snapshot, enriched, strict=True):
        assert e.region in (*REGIONS, "unknown")
        assert (e.region == "unknown") == (not state.has_position)
        assert (e.grid_cell is None) == (not state.has_position)
        assert e.origin_country == (state.origin_country or e.origin_country)
        assert e.phase in FlightPhase
        assert (e.nearest_airport_icao is None) == (e.nearest_airport_km is None)
        high = state.baro_altitude_m is not None and state.baro_altitude_m >= 3_000.0
        if high and not state.on_ground:
            assert e.nearest_airport_icao is None
        if e.nearest_airport_km is not None:
            assert 0.0 <= e.nearest_airport_km <= index.radius_km
        assert (e.route is None) == state.on_ground  # first sight: a leg for every flight
    on_ground = [e for s, e in zip(snapshot, enriched, strict=True) if s.on_ground]
    assert sum(e.nearest_airport_icao is not None for e in on_ground) > 0.9 * len(on_ground)
    assert {e.phase for e in enriched} == set(FlightPhase) - {P.LANDING}


def test_enricher_finds_the_same_airports_through_the_airport_grid(
    snapshot: list[FlightState], index: NearestAirports, airports: list[Airport]
) -> None:
    grid = AirportGrid(airports)
    through_grid = Enricher(lambda pts: [grid.nearest(lat, lon, 50.0) for lat, lon in pts])
    fast, slow = Enricher(index).enrich(snapshot), through_grid.enrich(snapshot)
    assert [e.nearest_airport_km for e in fast] == pytest.approx(
        [e.nearest_airport_km for e in slow], abs=1e-6
    )
    assert [e.phase for e in fast] == [e.phase for e in slow]


def test_the_lookup_altitude_is_the_approach_height() -> None:
    assert AIRPORT_LOOKUP_ALTITUDE_M == 3_000.0


def test_parked_aircraft_keep_their_airport_without_a_new_lookup(index: NearestAirports) -> None:
    lookup = CountingLookup(index)
    enricher = Enricher(lookup)
    first = enricher.enrich([ground(0, EGLL_RUNWAY)])[0]
    second = enricher.enrich([ground(10, EGLL_RUNWAY)])[0]
    assert lookup.calls == [1]
    assert first.nearest_airport_icao == second.nearest_airport_icao == "EGLL"


def test_a_failing_lookup_leaves_states_without_airports() -> None:
    def unavailable(points: Sequence[tuple[float, float]]) -> list[NearestAirport | None]:
        raise StoreUnavailable("airports are down")

    enriched = Enricher(unavailable).enrich([ground(0, EGLL_RUNWAY)])
    assert enriched[0].nearest_airport_icao is None
    assert enriched[0].phase is P.GROUND


@pytest.mark.parametrize(
    ("icao24", "origin_country", "expected"),
    [
        ("3c6444", None, "Germany"),  # from the address block
        ("3c6444", "France", "France"),  # the source's own word wins
        ("~3c6444", None, None),  # a non-ICAO address says nothing of a country
        ("dd9997", None, None),  # unallocated
    ],
)
def test_origin_country(icao24: str, origin_country: str | None, expected: str | None) -> None:
    state = make_state(icao24, at(0), origin_country=origin_country, source=Source.RECEIVER)
    enriched = Enricher(lambda points: [None] * len(points)).enrich([state])
    assert enriched[0].origin_country == expected
