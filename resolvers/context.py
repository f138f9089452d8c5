"""The per-request context every resolver receives: stores, settings and DataLoaders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime
from typing import Any

from strawberry.dataloader import DataLoader

from config import Settings
from domain import FlightState
from domain.runway import Runway
from storage.base import NearestAirport
from storage.factory import Stores

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
            return airports.nearest(keys, radius_km)

        return DataLoader(load_fn=load)

    @cached_property
    def track(self) -> DataLoader[TrackKey, list[FlightState]]:
        flights = self._stores.flights

        async def load(keys: Sequence[TrackKey]) -> list[list[FlightState]]:
            by_window: dict[tuple[datetime, datetime], list[str]] = defaultdict(list)
            for icao24, start, end in keys:
                by_window[(start, end)].append(icao24)
            found: dict[TrackKey, list[FlightState]] = {}
            for (start, end), codes in by_window.items():
                for icao24, states in flights.tracks(codes, start, end).items():
                    found[(icao24, start, end)] = states
            return [found.get(key, []) for key in keys]

        return DataLoader(load_fn=load)

    @cached_property
    def runways(self) -> DataLoader[str, list[Runway]]:
        airports = self._stores.airports

        async def load(codes: Sequence[str]) -> list[list[Runway]]:
            found = airports.runways(codes)
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
