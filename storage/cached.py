"""Cache-aside in front of the repositories: flights pages and airports by code.

Pages and airports are cached as plain JSON (``ResponseCache`` keeps what survives a JSON
round trip) and rebuilt into domain models on a hit without validating again: they were
validated when they were stored. Everything else goes straight to the wrapped repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain import Airport, FlightPhase, FlightState, PositionSource, Source
from storage.base import AirportRepository, FlightFilter, FlightRepository, Page
from storage.redis.cache import ResponseCache, airport_key, flights_key

_TIMES = ("time_position", "last_contact")
# Pages larger than an API page (the ingest side reads every aircraft at once) are never
# cached: they are not repeated, and would not fit a cache entry.
MAX_CACHED_PAGE = 1000


def _state_json(state: FlightState) -> dict[str, Any]:
    return state.model_dump(mode="json")


def _state(fields: dict[str, Any]) -> FlightState:
    for name in _TIMES:
        if fields[name] is not None:
            fields[name] = datetime.fromisoformat(fields[name])
    fields["source"] = Source(fields["source"])
    if fields["phase"] is not None:
        fields["phase"] = FlightPhase(fields["phase"])
    if fields["position_source"] is not None:
        fields["position_source"] = PositionSource(fields["position_source"])
    return FlightState.trusted(fields)


class CachedFlights:
    """A ``FlightRepository`` whose ``search_latest`` pages are cached for ``cache.ttl_s``
    and retired by every ingest cycle that stores states."""

    def __init__(self, store: FlightRepository, cache: ResponseCache) -> None:
        self.store = store
        self.cache = cache

    def search_latest(
        self, flt: FlightFilter, *, first: int, after: str | None = None
    ) -> Page[FlightState]:
        if first > MAX_CACHED_PAGE:
            return self.store.search_latest(flt, first=first, after=after)

        def compute() -> dict[str, Any]:
            page = self.store.search_latest(flt, first=first, after=after)
            return {
                "states": [_state_json(s) for s in page.items],
                "cursors": page.cursors,
                "total": page.total_count,
                "next": page.has_next_page,
            }

        found = self.cache.get_or_set(flights_key(flt, first, after), compute)
        return Page(
            items=[_state(s) for s in found["states"]],
            cursors=list(found["cursors"]),
            total_count=int(found["total"]),
            has_next_page=bool(found["next"]),
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class CachedAirports:
    """An ``AirportRepository`` whose look-ups by ICAO code are cached."""

    def __init__(self, store: AirportRepository, cache: ResponseCache) -> None:
        self.store = store
        self.cache = cache

    def by_icao(self, code: str) -> Airport | None:
        def compute() -> dict[str, Any] | None:
            found = self.store.by_icao(code)
            return None if found is None else found.model_dump(mode="json")

        fields = self.cache.get_or_set(airport_key(code), compute)
        return None if fields is None else Airport.model_construct(**fields)

    def many_by_icao(self, codes: Sequence[str]) -> dict[str, Airport]:
        return self.store.many_by_icao(codes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)
