"""The ``Route`` type: one leg of one aircraft, from departure to arrival."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from domain.leg import Leg
from schema.airport import Airport
from schema.context import Context


@strawberry.type(description="A leg: where an aircraft left the ground and where it landed.")
class Route:
    callsign: str | None
    departure_icao: str | None = strawberry.field(
        description="Null when the aircraft was first seen airborne away from airports"
    )
    departed_at: datetime = strawberry.field(description="Takeoff, or when first seen")
    arrival_icao: str | None = strawberry.field(description="Null while in flight")
    arrived_at: datetime | None
    great_circle_km: float | None = strawberry.field(
        description="Departure to arrival, or to the current position while in flight"
    )
    flown_km: float = strawberry.field(description="Distance along the reported positions")

    @strawberry.field
    def in_flight(self) -> bool:
        return self.arrived_at is None

    @strawberry.field
    async def departure(self, info: Info[Context, None]) -> Airport | None:
        return await _airport(info, self.departure_icao)

    @strawberry.field
    async def arrival(self, info: Info[Context, None]) -> Airport | None:
        return await _airport(info, self.arrival_icao)

    @classmethod
    def from_record(cls, r: Leg) -> Route:
        return cls(
            callsign=r.callsign,
            departure_icao=r.departure_icao,
            departed_at=r.departed_at,
            arrival_icao=r.arrival_icao,
            arrived_at=r.arrived_at,
            great_circle_km=None if r.great_circle_km is None else round(r.great_circle_km, 1),
            flown_km=round(r.flown_km, 1),
        )


async def _airport(info: Info[Context, None], code: str | None) -> Airport | None:
    if code is None:
        return None
    found = await info.context.loaders.airport.load(code)
    return None if found is None else Airport.from_record(found)
