"""The ``Flight`` type: an aircraft's latest state, and its connection.

Leaf fields are plain attributes so the executor's fast path serves long lists; only
``nearestAirport`` and ``track`` resolve, through per-request DataLoaders.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from domain import FlightState
from schema.airport import NearestAirport
from schema.arguments import track_window
from schema.context import Context
from schema.pagination import PageInfo
from schema.route import Route
from schema.scalars import FlightPhase, PositionSource, Source
from schema.track import Track
from storage.base import Page


@strawberry.type(description="The latest known state of one aircraft.")
class Flight:
    icao24: str = strawberry.field(description="ICAO 24-bit address, 6 lowercase hex digits")
    non_icao: bool = strawberry.field(description="The address is not an ICAO one (readsb '~')")
    callsign: str | None
    origin_country: str | None
    time_position: datetime | None = strawberry.field(description="When the position was measured")
    last_contact: datetime
    latitude: float | None
    longitude: float | None
    baro_altitude_m: float | None
    geo_altitude_m: float | None
    on_ground: bool
    velocity_mps: float | None = strawberry.field(description="Ground speed, m/s")
    true_track_deg: float | None = strawberry.field(description="Degrees clockwise from north")
    vertical_rate_mps: float | None = strawberry.field(description="m/s, positive is climbing")
    squawk: str | None
    spi: bool
    position_source: PositionSource | None
    category: int | None = strawberry.field(description="Emitter category, OpenSky's 0-20")
    source: Source
    region: str | None = strawberry.field(description="Named world region, e.g. europe")
    grid_cell: str | None = strawberry.field(description='1° cell "lat:lon" of the position')
    phase: FlightPhase | None = strawberry.field(
        description="GROUND, TAKEOFF, CLIMB, CRUISE, DESCENT, APPROACH or LANDING"
    )

    @strawberry.field(description="The leg this aircraft is flying, or its last one.")
    async def route(self, info: Info[Context, None]) -> Route | None:
        found = await info.context.loaders.route.load(self.icao24)
        return None if found is None else Route.from_record(found)

    @strawberry.field(description="The closest airport within the configured radius.")
    async def nearest_airport(self, info: Info[Context, None]) -> NearestAirport | None:
        if self.latitude is None or self.longitude is None:
            return None
        found = await info.context.loaders.nearest_airport.load((self.latitude, self.longitude))
        return None if found is None else NearestAirport.from_record(found)

    @strawberry.field(description="Positions over a time range; default the last hour.")
    async def track(
        self,
        info: Info[Context, None],
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Track:
        window_start, window_end = track_window(start, end, reference=self.last_contact)
        states = await info.context.loaders.track.load((self.icao24, window_start, window_end))
        return Track.from_states(self.icao24, states)

    @classmethod
    def from_state(cls, s: FlightState) -> Flight:
        return cls(
            icao24=s.icao24,
            non_icao=s.non_icao,
            callsign=s.callsign,
            origin_country=s.origin_country,
            time_position=s.time_position,
            last_contact=s.last_contact,
            latitude=s.latitude,
            longitude=s.longitude,
            baro_altitude_m=s.baro_altitude_m,
            geo_altitude_m=s.geo_altitude_m,
            on_ground=s.on_ground,
            velocity_mps=s.velocity_mps,
            true_track_deg=s.true_track_deg,
            vertical_rate_mps=s.vertical_rate_mps,
            squawk=s.squawk,
            spi=s.spi,
            position_source=s.position_source,
            category=s.category,
            source=s.source,
            region=s.region,
            grid_cell=s.grid_cell,
            phase=s.phase,
        )


@strawberry.type
class FlightEdge:
    cursor: str
    node: Flight


@strawberry.type
class FlightConnection:
    total_count: int
    nodes: list[Flight]
    page_info: PageInfo
    cursors: strawberry.Private[list[str]]

    @strawberry.field
    def edges(self) -> list[FlightEdge]:
        return [FlightEdge(cursor=c, node=n) for c, n in zip(self.cursors, self.nodes, strict=True)]

    @classmethod
    def from_page(
        cls, page: Page[FlightState], nodes: list[Flight] | None = None
    ) -> FlightConnection:
        """The page as a connection; ``nodes``: its flights made already."""
        return cls(
            total_count=page.total_count,
            nodes=[Flight.from_state(s) for s in page.items] if nodes is None else nodes,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            cursors=page.cursors,
        )
