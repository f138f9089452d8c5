"""Root resolvers for airports."""

from __future__ import annotations

from strawberry.types import Info

from domain import InvalidArgument
from schema import arguments
from schema.airport import Airport, AirportConnection
from schema.context import Context
from schema.inputs import GeoPointInput
from storage.base import AirportFilter
from storage.offload import offload

MAX_RADIUS_KM = 2000.0


async def airport(info: Info[Context, None], code: str) -> Airport | None:
    """An airport by ICAO or IATA code, case-insensitive; null when unknown."""
    value = code.strip().upper()
    if not 3 <= len(value) <= 8:
        raise InvalidArgument(
            f"code must be an ICAO (4 letters) or IATA (3 letters) code, got {code!r}"
        )
    repo = info.context.stores.airports
    found = await offload(repo.by_icao, value)
    if found is None and len(value) == 3:
        found = await offload(repo.by_iata, value)
    return None if found is None else Airport.from_record(found)


async def airports(
    info: Info[Context, None],
    country: str | None = None,
    region: str | None = None,
    near: GeoPointInput | None = None,
    radius_km: float = 100.0,
    search: str | None = None,
    first: int = 100,
    after: str | None = None,
) -> AirportConnection:
    """Airports by country, region, text or distance (nearest first when ``near`` is set)."""
    arguments.page_size(first, info.context.settings.max_page_size)
    if not 0 < radius_km <= MAX_RADIUS_KM:
        raise InvalidArgument(f"radiusKm must be between 0 and {MAX_RADIUS_KM:g}, got {radius_km}")
    flt = AirportFilter(
        country=country,
        region=region,
        near=near.to_domain() if near else None,
        radius_km=radius_km,
        search=search,
    )
    page = await offload(info.context.stores.airports.search, flt, first=first, after=after)
    return AirportConnection.from_page(page)
