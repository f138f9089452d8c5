"""The latest states a process holds in memory, searched as the store searches its own.

The API's live-update hub holds every live aircraft's latest state, taken from each cycle
as it is published. ``HeldStates`` orders them once per cycle and answers
``FlightRepository.search_latest`` over them with the store's answer: the same items,
cursors, ``totalCount`` and ``hasNextPage`` (a test compares it with SQLite on random
filters). The flights query and the live figures read them instead of the store
(``UpdateHub.held_for``; ``python -m bench.soak``: the store's read was half of a
``flights(first: 500)``).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cached_property
from operator import attrgetter
from typing import Any

from domain import FlightState
from storage import cursor
from storage.base import FlightFilter, Page, fold_ascii

_BY_ICAO24 = attrgetter("icao24")
# Pages kept per cycle for the searches asked again (a map's clients ask the same ones).
_KEPT_PAGES = 256


def _predicate(flt: FlightFilter) -> Callable[[FlightState], bool] | None:
    """What ``flt`` asks of a state beyond its position and last contact, as SQLite's
    WHERE clause asks it; ``None`` when nothing."""
    prefix = fold_ascii(flt.callsign_prefix.strip()) if flt.callsign_prefix else None
    country = fold_ascii(flt.origin_country) if flt.origin_country else None
    ground = flt.on_ground
    if prefix is None and country is None and ground is None:
        return None

    def matches(s: FlightState) -> bool:
        return (
            (prefix is None or (s.callsign is not None
                                and fold_ascii(s.callsign).startswith(prefix)))
            and (country is None or (s.origin_country is not None
                                     and fold_ascii(s.origin_country) == country))
            and (ground is None or s.on_ground == ground)
        )  # fmt: skip

    return matches


class HeldStates:
    """Latest states (one per aircraft) whose newest contact is ``newest``, ordered by
    icao24, and what ``present`` makes of each of them (``shown``), made once per state.

    Immutable but for that memo; safe to search from several threads at once.
    """

    def __init__(
        self,
        newest: datetime,
        states: Iterable[FlightState],
        present: Callable[[FlightState], Any] | None = None,
    ) -> None:
        self.newest = newest
        self.states = tuple(sorted(states, key=_BY_ICAO24))
        self.present = present
        self._memo: dict[int, Any] = {}
        self._cursors: dict[str, str] = {}
        self._pages: dict[tuple[FlightFilter, int, str | None], Page[FlightState]] = {}

    def prepare(self) -> None:
        """Make what the first search would make (its rows), so that no request waits for
        it: the hub calls this on a worker thread as it takes each cycle."""
        _ = self._rows, self._oldest

    @cached_property
    def _rows(self) -> list[tuple[FlightState, float, float, float]]:
        """The positioned states (the store lists no other) as (state, latitude, longitude,
        last contact in epoch seconds), compared as plain floats; made by the first search
        (live analytics read ``states`` alone)."""
        return [
            (s, s.latitude, s.longitude, s.last_contact.timestamp())
            for s in self.states
            if s.latitude is not None and s.longitude is not None
        ]

    @cached_property
    def _oldest(self) -> float:
        return min((row[3] for row in self._rows), default=0.0)

    def search(
        self, flt: FlightFilter, *, first: int, after: str | None = None
    ) -> Page[FlightState]:
        """``FlightRepository.search_latest`` over these states; the same search again
        gets the same page (up to ``_KEPT_PAGES`` of them)."""
        key = (flt, first, after)
        page = self._pages.get(key)
        if page is None:
            page = self._search(flt, first, after)
            if len(self._pages) < _KEPT_PAGES:
                self._pages[key] = page
        return page

    def _search(self, flt: FlightFilter, first: int, after: str | None) -> Page[FlightState]:
        last = None if after is None else cursor.decode("flights", after)
        if after is not None and type(last) is not str:
            raise cursor.invalid(after)
        rows = self._rows
        box = flt.bbox
        if box is not None:
            south, north, west, east = box.south, box.north, box.west, box.east
            if box.crosses_antimeridian:
                rows = [
                    r for r in rows if south <= r[1] <= north and (r[2] >= west or r[2] <= east)
                ]
            else:
                rows = [r for r in rows if south <= r[1] <= north and west <= r[2] <= east]
        since = None if flt.since is None else flt.since.timestamp()
        if since is not None and since > self._oldest:
            rows = [r for r in rows if r[3] >= since]
        matches = _predicate(flt)
        found = [r[0] for r in rows if matches is None or matches(r[0])]
        start = 0 if last is None else bisect.bisect_right(found, last, key=_BY_ICAO24)
        items = found[start : start + first]
        return Page(
            items=items,
            cursors=[self._cursor(s.icao24) for s in items],
            total_count=len(found),
            has_next_page=len(found) > start + first,
        )

    def _cursor(self, icao24: str) -> str:
        made = self._cursors.get(icao24)
        if made is None:
            made = self._cursors[icao24] = cursor.encode("flights", icao24)
        return made

    def shown(self, states: Iterable[FlightState]) -> list[Any]:
        """What ``present`` makes of each of ``states`` (held here), the same object each
        time; the states themselves without ``present``."""
        present = self.present
        if present is None:
            return list(states)
        memo = self._memo
        shown = []
        for state in states:
            made = memo.get(id(state))
            if made is None:
                made = memo[id(state)] = present(state)
            shown.append(made)
        return shown
