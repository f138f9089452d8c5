"""``AirportGrid``: nearest and within-radius look-ups agree with a full scan."""

from __future__ import annotations

import random

import pytest

from domain import Airport
from domain.geo import haversine_km
from ingestion.reference import airportsdata_airports
from storage.spatial import AirportGrid


def ap(icao: str, lat: float, lon: float) -> Airport:
    return Airport(icao=icao, name=icao, latitude=lat, longitude=lon)


@pytest.fixture(scope="module")
def real_airports() -> list[Airport]:
    return airportsdata_airports()


@pytest.fixture(scope="module")
def real_grid(real_airports: list[Airport]) -> AirportGrid:
    return AirportGrid(real_airports)


def test_nearest_and_within_agree_with_a_full_scan(
    real_airports: list[Airport], real_grid: AirportGrid
) -> None:
    rng = random.Random(20240601)
    # Random points (mostly ocean), points near real airports (crowded cells), and points
    # near the poles and the antimeridian where the grid wraps.
    points = [(rng.uniform(-80, 80), rng.uniform(-180, 180)) for _ in range(8)]
    for a in rng.sample(real_airports, 8):
        points.append((a.latitude + rng.uniform(-0.3, 0.3), a.longitude + rng.uniform(-0.3, 0.3)))
    points += [(89.5, 0.0), (-89.2, 90.0), (78.2, 15.5), (-16.8, 179.95), (51.9, -176.6)]
    for lat, lon in points:
        lon = (lon + 180) % 360 - 180
        pairs = sorted(
            (haversine_km(lat, lon, a.latitude, a.longitude), a.icao) for a in real_airports
        )
        for radius in (25.0, 150.0, 1500.0):
            expected = [icao for d, icao in pairs if d <= radius]
            within = [n.airport.icao for n in real_grid.within(lat, lon, radius)]
            assert within == expected, (lat, lon, radius)
            nearest = real_grid.nearest(lat, lon, radius)
            assert (nearest and nearest.airport.icao) == (expected[0] if expected else None)


def test_within_is_sorted_nearest_first() -> None:
    grid = AirportGrid([ap("FAR1", 0.0, 0.9), ap("NEAR", 0.0, 0.1), ap("MID1", 0.5, 0.0)])
    found = grid.within(0.0, 0.0, 200.0)
    assert [n.airport.icao for n in found] == ["NEAR", "MID1", "FAR1"]
    assert [n.distance_km for n in found] == sorted(n.distance_km for n in found)


def test_radius_is_inclusive_and_exclusive_beyond() -> None:
    grid = AirportGrid([ap("ONE1", 1.0, 0.0)])
    distance = haversine_km(0.0, 0.0, 1.0, 0.0)
    assert grid.nearest(0.0, 0.0, distance) is not None
    assert grid.nearest(0.0, 0.0, distance - 0.01) is None


def test_across_the_antimeridian() -> None:
    grid = AirportGrid([ap("EAST", -16.7, -179.9), ap("WEST", -16.7, 179.7)])
    assert grid.nearest(-16.7, 179.95, 50.0).airport.icao == "EAST"  # type: ignore[union-attr]
    assert grid.nearest(-16.7, -179.99, 50.0).airport.icao == "EAST"  # type: ignore[union-attr]
    assert {n.airport.icao for n in grid.within(-16.7, 179.99, 50.0)} == {"EAST", "WEST"}


@pytest.mark.parametrize(("lat", "lon"), [(0.0, 180.0), (0.0, -180.0), (90.0, 10.0), (-90.0, 0.0)])
def test_airports_on_the_edges_of_the_grid_are_found(lat: float, lon: float) -> None:
    grid = AirportGrid([ap("EDGE", lat, lon)])
    for q_lon in (lon - 0.05, lon + 0.05):
        q_lat = max(-89.99, min(89.99, lat))
        found = grid.nearest(q_lat, (q_lon + 180) % 360 - 180, 10.0)
        assert found is not None, (q_lat, q_lon)
        assert found.airport.icao == "EDGE"


def test_near_the_poles_every_longitude_is_scanned() -> None:
    grid = AirportGrid([ap("POLE", 89.9, 170.0)])
    found = grid.nearest(89.9, -10.0, 50.0)
    assert found is not None
    assert found.distance_km == pytest.approx(22.2, abs=0.1)


def test_empty_grid() -> None:
    assert AirportGrid([]).nearest(0.0, 0.0, 100.0) is None
    assert AirportGrid([]).within(0.0, 0.0, 100.0) == []
