"""``LiveFirst``: a ``FlightRepository`` that reads the Redis live index where it can answer
exactly as the store would, and the store everywhere else.

The index holds only states written in the last ``ttl_s``, and only from the moment it
is known complete (``RedisLiveIndex.complete_since``). So:

- ``search_latest`` goes to Redis when the filter's ``since`` lies inside that window
  (the API's live-window queries), widened by ``clock_skew_s`` for states stamped ahead
  of the clock; history queries (no ``since``, or an older one) go to the store. While
  Redis is down, ``recent`` answers the live-window queries with a bounding box if given
  (DynamoDB's ``RegionTimeIndex``: ``DynamoFlightRepository.search_recent``); while it is
  up but not yet complete, the store does (reading the latest items costs less);
- ``latest``/``latest_many``/``newest_contact`` go to Redis once it has been complete for
  a whole TTL, so that no state it holds can be older than the store's; a miss there
  (an aircraft not seen in the window) is asked of the store.

Any Redis failure sends the call to the store, counts a fallback and marks the
repository ``degraded`` until a Redis call succeeds again; a ``Breaker`` spares the calls
in between. Writes go to the store first, which is the record; a failed index write is
logged, and the index then reports itself incomplete until the missed states expired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from domain import FlightState
from storage.base import FlightFilter, FlightRepository, Page, PutResult, StoreUnavailable
from storage.redis import Breaker
from storage.redis.live import RedisLiveIndex

log = logging.getLogger(__name__)

T = TypeVar("T")


class RecentSearch(Protocol):
    def search_recent(
        self, flt: FlightFilter, *, first: int, after: str | None = None
    ) -> Page[FlightState] | None:
        """``search_latest``'s page for a live-window bbox filter; ``None`` for a filter it
        does not answer."""
        ...


class LiveFirst:
    """``FlightRepository`` over ``live`` and ``store``; see the module docstring."""

    def __init__(
        self,
        live: RedisLiveIndex,
        store: FlightRepository,
        *,
        recent: RecentSearch | None = None,
        retry_after_s: float = 2.0,
        clock_skew_s: float = 60.0,
    ) -> None:
        self.live = live
        self.store = store
        self.recent = recent
        self.clock_skew_s = clock_skew_s
        self._breaker = Breaker(retry_after_s)
        self.fallbacks = 0

    @property
    def degraded(self) -> bool:
        """True from a Redis failure until the next successful Redis call."""
        return not self._breaker.healthy

    def put_states(self, states: Sequence[FlightState]) -> PutResult:
        result = self.store.put_states(states)
        if not states:
            return result
        try:
            self.live.put(states)
        except StoreUnavailable as exc:
            self._breaker.failed()
            log.warning("live index not updated (%d states): %s", len(states), exc)
        else:
            self._breaker.succeeded()
        return result

    def search_latest(
        self, flt: FlightFilter, *, first: int, after: str | None = None
    ) -> Page[FlightState]:
        since = flt.since
        if since is not None:
            page = self._read(
                lambda: (
                    self.live.search(flt, first=first, after=after)
                    if self._covers(since.timestamp())
                    else None
                )
            )
            if page is not None:
                return page
            if self.degraded and flt.bbox is not None and self.recent is not None:
                page = self.recent.search_recent(flt, first=first, after=after)
                if page is not None:
                    return page
        return self.store.search_latest(flt, first=first, after=after)

    def all_latest(self, flt: FlightFilter) -> list[FlightState]:
        since = flt.since
        if since is not None:
            found = self._read(
                lambda: self.live.all_latest(flt) if self._covers(since.timestamp()) else None
            )
            if found is not None:
                return found
        return self.store.all_latest(flt)

    def latest(self, icao24: str) -> FlightState | None:
        return self.latest_many([icao24]).get(icao24)

    def latest_many(self, icao24s: Sequence[str]) -> dict[str, FlightState]:
        found = self._read(lambda: self.live.latest_many(icao24s) if self._settled() else None)
        found = found or {}
        missing = [code for code in icao24s if code not in found]
        if missing:
            found |= self.store.latest_many(missing)
        return found

    def newest_contact(self) -> datetime | None:
        newest = self._read(lambda: self.live.newest_contact() if self._settled() else None)
        return newest if newest is not None else self.store.newest_contact()

    def tracks(
        self, icao24s: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[FlightState]]:
        return self.store.tracks(icao24s, start, end)

    def by_region_hour(self, region: str, hour: datetime) -> list[FlightState]:
        return self.store.by_region_hour(region, hour)

    def prune(self, before: datetime) -> int:
        # The index prunes itself: its states expire.
        return self.store.prune(before)

    def _covers(self, since: float) -> bool:
        """Whether every state with ``last_contact >= since`` is in the index: written no
        earlier than ``since - skew``, after the index became complete, within the TTL."""
        complete, now = self.live.complete_since()
        written = since - self.clock_skew_s
        return complete is not None and written >= complete and written >= now - self.live.ttl_s

    def _settled(self) -> bool:
        """Whether the index has been complete for a whole TTL: nothing it holds predates a
        write it missed."""
        complete, now = self.live.complete_since()
        return complete is not None and complete <= now - self.live.ttl_s

    def _read(self, read: Callable[[], T | None]) -> T | None:
        """``read()``, or ``None`` (ask the store) when Redis fails or is being skipped."""
        if not self._breaker.allow():
            self.fallbacks += 1
            return None
        try:
            value = read()
        except StoreUnavailable as exc:
            self.fallbacks += 1
            self._breaker.failed()
            log.warning("live index unavailable, reading the store: %s", exc)
            return None
        self._breaker.succeeded()
        return value
