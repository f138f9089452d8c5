"""The per-request context every resolver receives: stores, settings and DataLoaders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from strawberry.dataloader import DataLoader

from config import Settings
from domain import Airport, FlightState
from domain.leg import Leg
from domain.runway import Runway
from live.subscribers import UpdateHub
from storage.base import NearestAirport
from storage.offload import offload
from storage.stores import Stores

TrackKey = tuple[str, datetime, datetime]
PointKey = tuple[float, float]


class Loaders:
    """Per-request DataLoaders, each made on first use: most requests need none."""

    def __init__(self, stores: Stores, settings: Settings) -> None:
        self._stores = stores
        self._settings = settings

    @cached_property
    def nearest_airport(self) -> DataLoader[PointKey, NearestAirport | None]:
        airports, radius_km = self._stores.airports, self._settings.nearest_airport_km

        async def load(keys: Sequence[PointKey]) -> list[NearestAirport | None]:
            return await offload(airports.nearest, keys, radius_km)

        return DataLoader(load_fn=load)

    @cached_property
    def track(self) -> DataLoader[TrackKey, list[FlightState]]:
        flights = self._stores.flights

        async def load(keys: Sequence[TrackKey]) -> list[list[FlightState]]:
            # One read for the batch: each flight's default window ends at its own last
            # contact, so a read per distinct window would be a read per flight or nearly.
            codes = list(dict.fromkeys(icao24 for icao24, _, _ in keys))
            start = min(k[1] for k in keys)
            end = max(k[2] for k in keys)
            found = await offload(flights.tracks, codes, start, end)
            return [
                [s for s in found.get(icao24, []) if lo <= s.time <= hi] for icao24, lo, hi in keys
            ]

        return DataLoader(load_fn=load)

    @cached_property
    def airport(self) -> DataLoader[str, Airport | None]:
        airports = self._stores.airports

        async def load(codes: Sequence[str]) -> list[Airport | None]:
            found = await offload(airports.many_by_icao, codes)
            return [found.get(code.upper()) for code in codes]

        return DataLoader(load_fn=load)

    @cached_property
    def route(self) -> DataLoader[str, Leg | None]:
        legs = self._stores.legs

        async def load(codes: Sequence[str]) -> list[Leg | None]:
            found = await offload(legs.current, codes)
            return [found.get(code) for code in codes]

        return DataLoader(load_fn=load)

    @cached_property
    def runways(self) -> DataLoader[str, list[Runway]]:
        airports = self._stores.airports

        async def load(codes: Sequence[str]) -> list[list[Runway]]:
            found = await offload(airports.runways, codes)
            return [found.get(code.upper(), []) for code in codes]

        return DataLoader(load_fn=load)


def make_loaders(stores: Stores, settings: Settings) -> Loaders:
    """Fresh loaders: build one set per request (or per subscription event)."""
    return Loaders(stores, settings)


@dataclass
class Context:
    stores: Stores
    settings: Settings
    loaders: Loaders
    request: Any = None
    response: Any = None
    connection_params: Any = field(default=None)
    hub: UpdateHub | None = None
