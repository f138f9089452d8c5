"""Geometry on the WGS-84 sphere: bounding boxes, points, distances and world regions."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from domain.errors import InvalidArgument

EARTH_RADIUS_KM = 6371.0088


def _check_lat(name: str, value: float) -> None:
    if not -90.0 <= value <= 90.0 or math.isnan(value):
        raise InvalidArgument(
            f"{name} must be between -90 and 90 degrees, got {value}", value=value
        )


def _check_lon(name: str, value: float) -> None:
    if not -180.0 <= value <= 180.0 or math.isnan(value):
        raise InvalidArgument(
            f"{name} must be between -180 and 180 degrees, got {value}", value=value
        )


@dataclass(frozen=True, slots=True)
class GeoPoint:
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        _check_lat("latitude", self.latitude)
        _check_lon("longitude", self.longitude)


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """A box in degrees. ``west > east`` means the box crosses the antimeridian."""

    south: float
    west: float
    north: float
    east: float

    def __post_init__(self) -> None:
        _check_lat("south", self.south)
        _check_lat("north", self.north)
        _check_lon("west", self.west)
        _check_lon("east", self.east)
        if self.south > self.north:
            raise InvalidArgument(
                f"south ({self.south}) must not be greater than north ({self.north})",
                value=(self.south, self.north),
            )

    @property
    def crosses_antimeridian(self) -> bool:
        return self.west > self.east

    def contains(self, latitude: float, longitude: float) -> bool:
        if not self.south <= latitude <= self.north:
            return False
        if self.crosses_antimeridian:
            return longitude >= self.west or longitude <= self.east
        return self.west <= longitude <= self.east

    @property
    def area_sq_deg(self) -> float:
        width = self.east - self.west
        if self.crosses_antimeridian:
            width += 360.0
        return (self.north - self.south) * width


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def destination(
    latitude: float, longitude: float, bearing_deg: float, distance_m: float
) -> tuple[float, float]:
    """The point reached from a start along a great circle: dead reckoning."""
    delta = distance_m / (EARTH_RADIUS_KM * 1000.0)
    theta = math.radians(bearing_deg)
    phi1, lam1 = math.radians(latitude), math.radians(longitude)
    sin_phi2 = math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta)
    phi2 = math.asin(max(-1.0, min(1.0, sin_phi2)))
    y = math.sin(theta) * math.sin(delta) * math.cos(phi1)
    x = math.cos(delta) - math.sin(phi1) * sin_phi2
    lam2 = lam1 + math.atan2(y, x)
    lon = (math.degrees(lam2) + 540.0) % 360.0 - 180.0
    return math.degrees(phi2), lon


# Named world regions, first match wins. Coarse on purpose: they partition the
# globe for storage and analytics, they are not political borders.
_REGIONS: tuple[tuple[str, float, float, float, float], ...] = (
    # name, south, west, north, east
    ("europe", 34.0, -25.0, 72.0, 45.0),
    ("north-america", 7.0, -170.0, 84.0, -50.0),
    ("south-america", -60.0, -95.0, 7.0, -30.0),
    ("africa", -40.0, -25.0, 34.0, 55.0),
    ("middle-east", 12.0, 34.0, 42.0, 63.0),
    ("asia", -11.0, 45.0, 82.0, 180.0),
    ("oceania", -50.0, 110.0, -11.0, 180.0),
)
REGIONS: tuple[str, ...] = (*(r[0] for r in _REGIONS), "oceans")


def region_of(latitude: float | None, longitude: float | None) -> str:
    """The named world region a position lies in; ``unknown`` without a position."""
    if latitude is None or longitude is None:
        return "unknown"
    for name, south, west, north, east in _REGIONS:
        if south <= latitude <= north and west <= longitude <= east:
            return name
    return "oceans"


def regions_in(box: BoundingBox) -> tuple[str, ...]:
    """Every region ``region_of`` can give a position inside ``box``: the named regions
    whose area meets it, and ``oceans`` unless the named areas cover it."""
    spans = (
        [(box.west, 180.0), (-180.0, box.east)]
        if box.crosses_antimeridian
        else [(box.west, box.east)]
    )
    found = [
        name
        for name, south, west, north, east in _REGIONS
        if south <= box.north
        and box.south <= north
        and any(west <= hi and lo <= east for lo, hi in spans)
    ]
    lats = _cuts(box.south, box.north, [edge for r in _REGIONS for edge in (r[1], r[3])])
    for lo, hi in spans:
        lons = _cuts(lo, hi, [edge for r in _REGIONS for edge in (r[2], r[4])])
        if any(region_of(lat, lon) == "oceans" for lat in lats for lon in lons):
            found.append("oceans")
            break
    return tuple(found)


def _cuts(lo: float, hi: float, edges: list[float]) -> list[float]:
    """One point inside each piece that ``edges`` cut ``[lo, hi]`` into: every region
    holds the whole of a piece or none of it, so these points stand for all of them."""
    points = sorted({lo, hi, *(e for e in edges if lo < e < hi)})
    if len(points) == 1:
        return points
    return [(a + b) / 2 for a, b in itertools.pairwise(points)]
