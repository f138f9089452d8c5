"""Bounding boxes, points, distances, dead reckoning and world regions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import BoundingBox, GeoPoint, InvalidArgument
from domain.geo import REGIONS, destination, haversine_km, region_of, regions_in


def test_south_greater_than_north_names_both_values() -> None:
    with pytest.raises(InvalidArgument) as exc:
        BoundingBox(south=50.0, west=0.0, north=40.0, east=10.0)
    assert str(exc.value) == "south (50.0) must not be greater than north (40.0)"
    assert exc.value.value == (50.0, 40.0)


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ((-91.0, 0.0, 10.0, 10.0), "south must be between -90 and 90 degrees, got -91.0"),
        ((0.0, 0.0, 90.5, 10.0), "north must be between -90 and 90 degrees, got 90.5"),
        ((0.0, -181.0, 10.0, 10.0), "west must be between -180 and 180 degrees, got -181.0"),
        ((0.0, 0.0, 10.0, 180.1), "east must be between -180 and 180 degrees, got 180.1"),
        ((math.nan, 0.0, 10.0, 10.0), "south must be between -90 and 90 degrees, got nan"),
        ((0.0, math.nan, 10.0, 10.0), "west must be between -180 and 180 degrees, got nan"),
    ],
)
def test_box_ranges_are_checked(box: tuple[float, float, float, float], message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        BoundingBox(*box)
    assert str(exc.value) == message


def test_box_contains_edges_inclusive() -> None:
    box = BoundingBox(south=40.0, west=-5.0, north=50.0, east=10.0)
    assert not box.crosses_antimeridian
    assert box.contains(45.0, 0.0)
    assert box.contains(40.0, -5.0)
    assert box.contains(50.0, 10.0)
    assert not box.contains(39.99, 0.0)
    assert not box.contains(45.0, 10.01)
    assert not box.contains(45.0, -170.0)


def test_box_across_the_antimeridian() -> None:
    box = BoundingBox(south=-30.0, west=170.0, north=10.0, east=-170.0)
    assert box.crosses_antimeridian
    assert box.contains(-17.0, 178.0)  # Fiji
    assert box.contains(-17.0, -179.9)
    assert box.contains(0.0, 180.0)
    assert box.contains(0.0, -180.0)
    assert not box.contains(0.0, 0.0)
    assert not box.contains(0.0, 169.9)
    assert not box.contains(0.0, -169.9)
    assert not box.contains(20.0, 178.0)


def test_area_in_square_degrees() -> None:
    assert BoundingBox(40.0, -5.0, 50.0, 10.0).area_sq_deg == pytest.approx(150.0)
    assert BoundingBox(-30.0, 170.0, 10.0, -170.0).area_sq_deg == pytest.approx(800.0)
    assert BoundingBox(-90.0, -180.0, 90.0, 180.0).area_sq_deg == pytest.approx(64_800.0)
    assert BoundingBox(10.0, 5.0, 10.0, 5.0).area_sq_deg == 0.0


def test_geo_point_checks_its_range() -> None:
    assert GeoPoint(51.47, -0.46).latitude == 51.47
    with pytest.raises(InvalidArgument, match="latitude must be between -90 and 90"):
        GeoPoint(91.0, 0.0)
    with pytest.raises(InvalidArgument, match="longitude must be between -180 and 180"):
        GeoPoint(0.0, 200.0)


def test_haversine_known_distances() -> None:
    # Heathrow to JFK is about 5,540 km on a sphere; one degree of a meridian about 111.2 km.
    assert haversine_km(51.4706, -0.4619, 40.6398, -73.7789) == pytest.approx(5_540, rel=0.01)
    assert haversine_km(0.0, 0.0, 1.0, 0.0) == pytest.approx(111.195, rel=1e-4)
    assert haversine_km(10.0, 179.5, 10.0, -179.5) == pytest.approx(109.5, rel=0.01)
    assert haversine_km(12.3, 45.6, 12.3, 45.6) == 0.0
    assert haversine_km(90.0, 0.0, -90.0, 0.0) == pytest.approx(math.pi * 6371.0088)


@pytest.mark.parametrize(
    ("bearing", "expected"),
    [(0.0, (0.8993, 0.0)), (90.0, (0.0, 0.8993)), (180.0, (-0.8993, 0.0)), (270.0, (0.0, -0.8993))],
)
def test_destination_moves_along_the_bearing(bearing: float, expected: tuple[float, float]) -> None:
    lat, lon = destination(0.0, 0.0, bearing, 100_000.0)
    assert lat == pytest.approx(expected[0], abs=1e-4)
    assert lon == pytest.approx(expected[1], abs=1e-4)


def test_destination_distance_is_the_great_circle_distance() -> None:
    lat, lon = destination(48.85, 2.35, 37.0, 250_000.0)
    assert haversine_km(48.85, 2.35, lat, lon) == pytest.approx(250.0, rel=1e-9)


def test_destination_wraps_at_the_antimeridian() -> None:
    lat, lon = destination(-17.0, 179.9, 90.0, 50_000.0)
    assert -180.0 <= lon < -179.0
    assert haversine_km(-17.0, 179.9, lat, lon) == pytest.approx(50.0, rel=1e-9)


@pytest.mark.parametrize(
    ("lat", "lon", "region"),
    [
        (48.85, 2.35, "europe"),
        (40.64, -73.78, "north-america"),
        (-23.55, -46.63, "south-america"),
        (-1.29, 36.82, "africa"),
        (25.25, 55.36, "middle-east"),
        (35.55, 139.78, "asia"),
        (-33.94, 151.18, "oceania"),
        (30.0, -40.0, "oceans"),
        (-40.0, -140.0, "oceans"),
        (None, 2.35, "unknown"),
        (48.85, None, "unknown"),
    ],
)
def test_region_of(lat: float | None, lon: float | None, region: str) -> None:
    assert region_of(lat, lon) == region
    assert region == "unknown" or region in REGIONS


@pytest.mark.parametrize(
    ("box", "regions"),
    [
        ((49.5, -11.0, 61.0, 2.0), ("europe",)),  # the British Isles
        ((34.0, -25.0, 72.0, 45.0), ("europe", "africa", "middle-east", "asia")),  # edges meet
        ((35.0, -60.0, 60.0, -30.0), ("north-america", "oceans")),  # the North Atlantic
        ((-25.0, 170.0, 0.0, -170.0), ("asia", "oceania", "oceans")),  # across the antimeridian
        ((30.0, -40.0, 30.0, -40.0), ("oceans",)),  # a point
    ],
)
def test_regions_in(box: tuple[float, float, float, float], regions: tuple[str, ...]) -> None:
    assert regions_in(BoundingBox(*box)) == regions


@given(
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_regions_in_holds_the_region_of_every_position_in_the_box(
    south: float, west: float, height: float, width: float, at_lat: float, at_lon: float
) -> None:
    north = south + (90.0 - south) * height
    east = west + 360.0 * width
    east = east - 360.0 if east > 180.0 else east
    box = BoundingBox(south, west, north, east)
    span = east - west + (360.0 if box.crosses_antimeridian else 0.0)
    lon = west + span * at_lon
    lon = lon - 360.0 if lon > 180.0 else lon
    lat = south + (north - south) * at_lat
    assert box.contains(lat, lon)
    assert region_of(lat, lon) in regions_in(box)
