"""Input types; each converts itself to the domain value, which checks its ranges."""

from __future__ import annotations

import strawberry

from domain import BoundingBox, GeoPoint


@strawberry.input(description="A box in degrees; west > east crosses the antimeridian.")
class BoundingBoxInput:
    south: float
    west: float
    north: float
    east: float

    def to_domain(self) -> BoundingBox:
        return BoundingBox(self.south, self.west, self.north, self.east)


@strawberry.input
class GeoPointInput:
    latitude: float
    longitude: float

    def to_domain(self) -> GeoPoint:
        return GeoPoint(self.latitude, self.longitude)
