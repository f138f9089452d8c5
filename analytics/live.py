"""The live picture: the latest state of every aircraft in the live window.

It is read exactly as ``flights`` reads it (newest contact, less the live window), so the
live figures count the aircraft that ``flights { totalCount }`` counts. The live figures
are answered over the states in plain Python (``analytics.live_figures``). ``states_table``
loads states into DuckDB as the ``flights`` relation of ``analytics/sql``: the Parquet
columns the queries use, typed as ``storage.processed.SCHEMA`` types them (``COLUMNS``; a
test keeps the two in step), and the partition columns ``year``, ``month`` and ``day``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from analytics.engine import DuckTable
from domain import FlightState
from storage.base import FlightFilter, FlightRepository, live_since, live_start
from storage.held import HeldStates

# The Parquet columns the queries use, with their DuckDB types.
COLUMNS = {
    "icao24": "VARCHAR",
    "time": "TIMESTAMPTZ",
    "latitude": "DOUBLE",
    "longitude": "DOUBLE",
    "baro_altitude_m": "DOUBLE",
    "geo_altitude_m": "DOUBLE",
    "on_ground": "BOOLEAN",
    "origin_country": "VARCHAR",
    "region": "VARCHAR",
}


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """The latest states heard from in ``[since, as_of]``; ``as_of`` is the newest contact
    (``None`` when the store holds no aircraft)."""

    as_of: datetime | None
    since: datetime | None
    states: tuple[FlightState, ...]
    # The live figures answered over these states, by figure and arguments: each is
    # computed once per snapshot and process (without Redis there is no response cache).
    answers: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def total(self) -> int:
        return len(self.states)


def snapshot(flights: FlightRepository, live_window_s: float) -> LiveSnapshot:
    newest, since = live_since(flights, live_window_s)
    states = tuple(flights.all_latest(FlightFilter(since=since)))
    return LiveSnapshot(as_of=newest, since=since, states=states)


# The live states a process holds to be read when the store's newest contact is the one
# given (its live-update hub's ``held_for``), or ``None``: read the store.
Held = Callable[[datetime], HeldStates | None]


class LiveSnapshots:
    """The live snapshot of one repository, made again only when the store's newest contact
    has moved (the next cycle stored states) or after ``max_age_s``: once per cycle and
    process instead of once per request, as the response cache keys its live answers by
    the newest contact.

    When ``follow`` gave it the states the process holds (the API's live-update hub's
    ``held_for``), the snapshot is made of them: the store's newest contact's once the hub
    has taken it, the hub's previous cycle's while it takes it. Else every live state is
    read from the store (34 ms for 5,400 aircraft on SQLite, paid by the first request
    after each cycle). The two hold the same states for the same contact: the hub takes
    every state stored, keeps each aircraft's latest and drops those older than the live
    window.

    Thread-safe: one caller makes a new snapshot while the others wait for it.
    """

    def __init__(
        self, flights: FlightRepository, live_window_s: float, max_age_s: float = 30.0
    ) -> None:
        self.flights = flights
        self.live_window_s = live_window_s
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._last: LiveSnapshot | None = None
        self._read_at = 0.0
        self._held: Held | None = None

    def follow(self, held: Held) -> None:
        """Make snapshots of what ``held`` gives for the store's newest contact."""
        self._held = held

    def get(self) -> LiveSnapshot:
        newest = self.flights.newest_contact()
        held = None if self._held is None or newest is None else self._held(newest)
        with self._lock:
            last = self._last
            if held is not None:
                if last is None or last.as_of != held.newest:
                    since = live_start(held.newest, self.live_window_s)
                    # In the store's order (``all_latest``), so that every answer is the same.
                    last = self._last = LiveSnapshot(held.newest, since, held.states)
                return last
            fresh = time.monotonic() - self._read_at < self.max_age_s
            if last is None or last.as_of != newest or not fresh:
                self._read_at = time.monotonic()
                last = self._last = snapshot(self.flights, self.live_window_s)
            return last


def states_table(states: Sequence[FlightState]) -> DuckTable:
    """The states as a DuckDB table of ``COLUMNS`` and the partition columns."""
    columns: dict[str, tuple[str, Sequence[Any]]] = {
        name: (kind, [getattr(s, name) for s in states]) for name, kind in COLUMNS.items()
    }
    times = [s.time.astimezone(UTC) for s in states]
    for part, pattern in (("year", "%Y"), ("month", "%m"), ("day", "%d")):
        columns[part] = ("VARCHAR", [t.strftime(pattern) for t in times])
    return DuckTable(columns)
