"""The ``Runway`` type: one runway of an airport, both ends."""

from __future__ import annotations

import strawberry

from domain.runway import Runway as RunwayRecord


@strawberry.type
class RunwayEnd:
    ident: str | None
    latitude: float | None
    longitude: float | None
    elevation_m: float | None
    heading_deg: float | None = strawberry.field(description="True heading, degrees")


@strawberry.type
class Runway:
    ident: str | None = strawberry.field(description='Both ends, e.g. "09L/27R"')
    length_m: float | None
    width_m: float | None
    surface: str | None
    lighted: bool
    closed: bool
    low_end: RunwayEnd
    high_end: RunwayEnd

    @classmethod
    def from_record(cls, r: RunwayRecord) -> Runway:
        return cls(
            ident=r.ident,
            length_m=r.length_m,
            width_m=r.width_m,
            surface=r.surface,
            lighted=r.lighted,
            closed=r.closed,
            low_end=RunwayEnd(
                ident=r.le_ident,
                latitude=r.le_latitude,
                longitude=r.le_longitude,
                elevation_m=r.le_elevation_m,
                heading_deg=r.le_heading_deg,
            ),
            high_end=RunwayEnd(
                ident=r.he_ident,
                latitude=r.he_latitude,
                longitude=r.he_longitude,
                elevation_m=r.he_elevation_m,
                heading_deg=r.he_heading_deg,
            ),
        )
