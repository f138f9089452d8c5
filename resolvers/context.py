"""The per-request context every resolver receives: stores, settings and DataLoaders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
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


@dataclass
class Loaders:
    nearest_airport: DataLoader[PointKey, NearestAirport | None]
    track: DataLoader[TrackKey, list[FlightState]]
    runways: DataLoader[str, list[Runway]]


def make_loaders(stores: Stores, settings: Settings) -> Loaders:
    """Fresh loaders: build one set per request (or per subscription event)."""

    async def load_nearest(keys: Sequence[PointKey]) -> list[NearestAirport | None]:
        return stores.airports.nearest(keys, settings.nearest_airport_km)

    async def load_tracks(keys: Sequence[TrackKey]) -> list[list[FlightState]]:
        by_window: dict[tuple[datetime, datetime], list[str]] = defaultdict(list)
        for icao24, start, end in keys:
            by_window[(start, end)].append(icao24)
        found: dict[TrackKey, list[FlightState]] = {}
        for (start, end), codes in by_window.items():
            for icao24, states in stores.flights.tracks(codes, start, end).items():
                found[(icao24, start, end)] = states
        return [found.get(key, []) for key in keys]

    async def load_runways(codes: Sequence[str]) -> list[list[Runway]]:
        found = stores.airports.runways(codes)
        return [found.get(code.upper(), []) for code in codes]

    return Loaders(
        nearest_airport=DataLoader(load_fn=load_nearest),
        track=DataLoader(load_fn=load_tracks),
        runways=DataLoader(load_fn=load_runways),
    )


@dataclass
class Context:
    stores: Stores
    settings: Settings
    loaders: Loaders
    request: Any = None
    response: Any = None
    connection_params: Any = field(default=None)
