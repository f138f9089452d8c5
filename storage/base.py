"""Backend-neutral interfaces of the stores, and the value types they exchange.

Every backend (the embedded SQLite store, DynamoDB + Redis on AWS) implements these
protocols and returns domain models; nothing above ``storage/`` sees a row or an item.
Pagination cursors are opaque strings made by ``storage.cursor``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from domain import Airport, BoundingBox, FlightState, GeoPoint
from domain.api_key import ApiKey
from domain.cycle import CycleReport
from domain.leg import Leg
from domain.runway import Runway

T = TypeVar("T")


class StoreUnavailable(ConnectionError):
    """The backing store could not be reached or failed. ``retryable``: whether the caller
    may try again; ``False`` once the store's own retry layer has spent its budget."""

    retryable: bool = True


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    total_count: int
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


# SQLite's LIKE and NOCASE fold ASCII letters only; every backend's text filters fold so.
_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold_ascii(text: str) -> str:
    """``text`` with its ASCII letters in lower case, as SQLite's ``LIKE`` and ``NOCASE``
    compare it (other letters are left as they are)."""
    return text.translate(_ASCII_FOLD)


def offset_page(found: Sequence[T], *, kind: str, first: int, after: str | None) -> Page[T]:
    """One page of an already ordered, fully computed result, with offset cursors of
    ``kind`` (for results ranked in memory, such as airports by distance)."""
    from storage import cursor

    offset = 0 if after is None else cursor.decode(kind, after)
    if type(offset) is not int or offset < 0:
        raise cursor.invalid(after)
    chunk = list(found[offset : offset + first])
    return Page(
        items=chunk,
        cursors=[cursor.encode(kind, offset + i + 1) for i in range(len(chunk))],
        total_count=len(found),
        has_next_page=offset + first < len(found),
    )


@dataclass(frozen=True, slots=True)
class FlightFilter:
    """Filters for the latest state per aircraft; only states with a position match."""

    bbox: BoundingBox | None = None
    callsign_prefix: str | None = None
    origin_country: str | None = None
    on_ground: bool | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class AirportFilter:
    country: str | None = None
    region: str | None = None
    near: GeoPoint | None = None
    radius_km: float = 100.0
    search: str | None = None


@dataclass(frozen=True, slots=True)
class PutResult:
    """What a batch put did: new states stored, and states already stored (same key).
    ``new`` lists the states stored for the first time, when the backend tells them."""

    stored: int
    duplicates: int
    new: Sequence[FlightState] | None = None


@dataclass(frozen=True, slots=True)
class NearestAirport:
    airport: Airport
    distance_km: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be stored, with why and the raw value as received."""

    reason: str
    detail: str
    source: str
    raw: object
    received_at: datetime
    attempts: int = 1
    cycle_id: str | None = None
    observed_at: datetime | None = field(
        default=None, metadata={"doc": "the source's snapshot time, for re-normalising"}
    )
    key: str | None = field(
        default=None, compare=False, metadata={"doc": "the state it was, icao24@time"}
    )
    id: str | None = field(default=None, compare=False)


class LegRepository(Protocol):
    def put_legs(self, routes: Sequence[Leg]) -> None:
        """Store legs, replacing any stored leg with the same ``(icao24, departed_at)``."""
        ...

    def current(self, icao24s: Sequence[str]) -> dict[str, Leg]:
        """The most recent leg of each aircraft that has one."""
        ...

    def in_flight(self, since: datetime) -> list[Leg]:
        """Legs not yet arrived that were updated at or after ``since``."""
        ...

    def completed(self, since: datetime, until: datetime) -> list[Leg]:
        """Legs that arrived in ``[since, until]``."""
        ...


class ApiKeyRepository(Protocol):
    """API key records (``security.keys``): the hash of each key, never the key."""

    def put(self, key: ApiKey) -> None: ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def list(self) -> list[ApiKey]: ...

    def generation(self) -> int:
        """A number that grows with every ``put``, shared by every process of the store:
        one cheap read tells a process whether the keys it cached may have changed."""
        ...


class WatchRepository(Protocol):
    """Aircraft that subscriptions on AppSync watch, per subscription field
    (``trackUpdates``, ``flightUpdates(icao24:)``): the publisher sends those aircraft
    alone. A watch is kept until the time it names (a subscription cannot outlive AppSync's
    connection limit, and AppSync does not say when one ends)."""

    def watch(self, field: str, icao24s: Sequence[str], until: datetime) -> None:
        """Watch ``icao24s`` for ``field`` until ``until`` (a later watch extends one)."""
        ...

    def watched(self, field: str, now: datetime) -> set[str]:
        """The aircraft watched for ``field`` whose watch runs past ``now``."""
        ...


# Opens a unit of work: the repositories' writes made inside it commit together where the
# backend can (one SQLite transaction), else each as it is made (DynamoDB).
UnitOfWork = Callable[[], AbstractContextManager[object]]


class CycleRepository(Protocol):
    def put_cycle(self, report: CycleReport) -> None: ...

    def recent_cycles(self, last: int) -> list[CycleReport]:
        """The ``last`` most recent cycles, newest first."""
        ...


class FlightRepository(Protocol):
    def put_states(self, states: Sequence[FlightState]) -> PutResult:
        """Store states idempotently, keyed on ``(icao24, time)``."""
        ...

    def latest(self, icao24: str) -> FlightState | None: ...

    def latest_many(self, icao24s: Sequence[str]) -> dict[str, FlightState]: ...

    def search_latest(
        self, flt: FlightFilter, *, first: int, after: str | None = None
    ) -> Page[FlightState]:
        """The latest state of each aircraft matching ``flt``, ordered by icao24."""
        ...

    def all_latest(self, flt: FlightFilter) -> list[FlightState]:
        """Every state ``search_latest`` lists for ``flt``, in its order, in one read: the
        bulk read of the live aircraft (the hub, the pipeline, live analytics)."""
        ...

    def tracks(
        self, icao24s: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[FlightState]]:
        """States of each aircraft with ``start <= time <= end``, oldest first."""
        ...

    def by_region_hour(self, region: str, hour: datetime) -> list[FlightState]: ...

    def newest_contact(self) -> datetime | None:
        """The most recent ``last_contact`` of any aircraft; ``None`` when empty."""
        ...

    def prune(self, before: datetime) -> int:
        """Delete history older than ``before``; returns the number of states removed."""
        ...


def live_start(newest: datetime, live_window_s: float) -> datetime:
    """The start of the live window when the newest contact is ``newest``: aircraft heard
    from since then are live."""
    return newest - timedelta(seconds=live_window_s)


def live_since(
    flights: FlightRepository, live_window_s: float
) -> tuple[datetime | None, datetime | None]:
    """``(newest contact, start of the live window)``, as the flights query applies it:
    aircraft heard from within ``live_window_s`` of the newest data; both ``None`` when
    the store is empty."""
    newest = flights.newest_contact()
    if newest is None:
        return None, None
    return newest, live_start(newest, live_window_s)


def live_states(flights: FlightRepository, live_window_s: float) -> list[FlightState]:
    """Every live aircraft's latest state, as the flights query lists them."""
    _, since = live_since(flights, live_window_s)
    if since is None:
        return []
    return flights.all_latest(FlightFilter(since=since))


class AirportRepository(Protocol):
    def put_airports(self, airports: Sequence[Airport]) -> int: ...

    def count(self) -> int: ...

    def by_icao(self, code: str) -> Airport | None: ...

    def by_iata(self, code: str) -> Airport | None: ...

    def many_by_icao(self, codes: Sequence[str]) -> dict[str, Airport]: ...

    def search(self, flt: AirportFilter, *, first: int, after: str | None = None) -> Page[Airport]:
        """Airports matching ``flt``: by distance when ``near`` is set, else by code."""
        ...

    def nearest(
        self, points: Sequence[tuple[float, float]], radius_km: float
    ) -> list[NearestAirport | None]:
        """For each ``(latitude, longitude)``, the closest airport within the radius."""
        ...

    def put_runways(self, runways: Sequence[Runway]) -> int:
        """Replace the runways of every airport that ``runways`` names."""
        ...

    def runways(self, codes: Sequence[str]) -> dict[str, list[Runway]]: ...


class DeadLetterRepository(Protocol):
    def add(self, letters: Sequence[DeadLetter]) -> None: ...

    def get(self, ids: Sequence[str]) -> list[DeadLetter]: ...

    def remove(self, ids: Sequence[str]) -> int:
        """Delete letters that were dealt with (replayed and stored)."""
        ...

    def retried(self, ids: Sequence[str], reason: str, detail: str) -> None:
        """Record one more failed attempt, with the reason it failed this time."""
        ...

    def reasons(self) -> dict[str, int]:
        """How many letters there are for each reason."""
        ...

    def prune(self, before: datetime) -> int:
        """Delete letters received before ``before``; returns how many."""
        ...

    def count(self, reason: str | None = None) -> int: ...

    def list(
        self, *, first: int, after: str | None = None, reason: str | None = None
    ) -> Page[DeadLetter]: ...
