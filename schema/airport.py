"""The ``Airport`` type and its connection."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain import Airport as AirportRecord
from schema.context import Context
from schema.pagination import PageInfo
from schema.runway import Runway
from storage.base import NearestAirport as NearestRecord
from storage.base import Page


@strawberry.type
class Airport:
    icao: str = strawberry.field(description="ICAO code, or the OurAirports ident lacking one")
    iata: str | None
    name: str
    city: str | None
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 code")
    region: str | None
    latitude: float
    longitude: float
    elevation_m: float | None
    type: str | None
    time_zone: str | None = strawberry.field(description="IANA time zone")

    @strawberry.field(description="Runways, when OurAirports data has been loaded.")
    async def runways(self, info: Info[Context, None]) -> list[Runway]:
        found = await info.context.loaders.runways.load(self.icao)
        return [Runway.from_record(r) for r in found]

    @classmethod
    def from_record(cls, a: AirportRecord) -> Airport:
        return cls(
            icao=a.icao,
            iata=a.iata,
            name=a.name,
            city=a.city,
            country=a.country,
            region=a.region,
            latitude=a.latitude,
            longitude=a.longitude,
            elevation_m=a.elevation_m,
            type=a.type,
            time_zone=a.time_zone,
        )


@strawberry.type
class NearestAirport:
    airport: Airport
    distance_km: float

    @classmethod
    def from_record(cls, n: NearestRecord) -> NearestAirport:
        return cls(airport=Airport.from_record(n.airport), distance_km=round(n.distance_km, 3))


@strawberry.type
class AirportEdge:
    cursor: str
    node: Airport


@strawberry.type
class AirportConnection:
    total_count: int
    nodes: list[Airport]
    page_info: PageInfo
    cursors: strawberry.Private[list[str]]

    @strawberry.field
    def edges(self) -> list[AirportEdge]:
        return [
            AirportEdge(cursor=c, node=n) for c, n in zip(self.cursors, self.nodes, strict=True)
        ]

    @classmethod
    def from_page(cls, page: Page[AirportRecord]) -> AirportConnection:
        return cls(
            total_count=page.total_count,
            nodes=[Airport.from_record(a) for a in page.items],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            cursors=page.cursors,
        )
