"""Flight states in SQLite: the ``states`` history and the ``latest`` view."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from domain import FlightPhase, FlightState
from domain.flight import PositionSource, Source
from domain.geo import region_of
from storage.base import FlightFilter, Page, PutResult
from storage.offload import inline
from storage.sqlite._like import escape_like
from storage.sqlite.db import SqliteDatabase

COLUMNS = (
    "icao24, time, non_icao, callsign, origin_country, time_position, last_contact, "
    "latitude, longitude, baro_altitude_m, geo_altitude_m, on_ground, velocity_mps, "
    "true_track_deg, vertical_rate_mps, squawk, spi, position_source, category, source, "
    "region, hour, grid_cell, phase, nearest_airport_icao, nearest_airport_km"
)
_MARKS = ", ".join("?" * len(COLUMNS.split(",")))
_STORED_COLUMNS = ", ".join(f"s.{c.strip()}" for c in COLUMNS.split(","))
_PUT_HISTORY = f"INSERT OR IGNORE INTO states ({COLUMNS}) VALUES ({_MARKS})"
_UPSERT_LATEST = (
    f"INSERT INTO latest ({COLUMNS}) VALUES ({_MARKS}) ON CONFLICT (icao24) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (c.strip() for c in COLUMNS.split(",")[1:]))
    + " WHERE excluded.time >= latest.time"
)
_POSITION_SOURCES = {p.value: p for p in PositionSource}
_SOURCES = {s.value: s for s in Source}
_PHASES = {p.value: p for p in FlightPhase}


def state_row(state: FlightState) -> tuple[Any, ...]:
    key_time = state.time.timestamp()
    return (
        state.icao24,
        key_time,
        state.non_icao,
        state.callsign,
        state.origin_country,
        state.time_position.timestamp() if state.time_position else None,
        state.last_contact.timestamp(),
        state.latitude,
        state.longitude,
        state.baro_altitude_m,
        state.geo_altitude_m,
        state.on_ground,
        state.velocity_mps,
        state.true_track_deg,
        state.vertical_rate_mps,
        state.squawk,
        state.spi,
        None if state.position_source is None else int(state.position_source),
        state.category,
        state.source.value,
        state.region or region_of(state.latitude, state.longitude),
        int(key_time // 3600),
        state.grid_cell,
        None if state.phase is None else state.phase.value,
        state.nearest_airport_icao,
        state.nearest_airport_km,
    )


def state_from_row(row: Sequence[Any]) -> FlightState:
    fromts = datetime.fromtimestamp
    return FlightState.trusted(
        {
            "icao24": row[0],
            "non_icao": bool(row[2]),
            "callsign": row[3],
            "origin_country": row[4],
            "time_position": None if row[5] is None else fromts(row[5], UTC),
            "last_contact": fromts(row[6], UTC),
            "latitude": row[7],
            "longitude": row[8],
            "baro_altitude_m": row[9],
            "geo_altitude_m": row[10],
            "on_ground": bool(row[11]),
            "velocity_mps": row[12],
            "true_track_deg": row[13],
            "vertical_rate_mps": row[14],
            "squawk": row[15],
            "spi": bool(row[16]),
            "position_source": None if row[17] is None else _POSITION_SOURCES.get(row[17]),
            "category": row[18],
            "source": _SOURCES[row[19]],
            "region": row[20],
            "grid_cell": row[22],
            "phase": None if row[23] is None else _PHASES[row[23]],
            "nearest_airport_icao": row[24],
            "nearest_airport_km": row[25],
        }
    )


def _filter_clause(flt: FlightFilter) -> tuple[str, list[Any]]:
    where = ["latitude IS NOT NULL", "longitude IS NOT NULL"]
    params: list[Any] = []
    if flt.bbox is not None:
        box = flt.bbox
        where.append("latitude BETWEEN ? AND ?")
        params += [box.south, box.north]
        if box.crosses_antimeridian:
            where.append("(longitude >= ? OR longitude <= ?)")
        else:
            where.append("longitude BETWEEN ? AND ?")
        params += [box.west, box.east]
    if flt.callsign_prefix:
        where.append("callsign LIKE ? ESCAPE '\\'")
        params.append(escape_like(flt.callsign_prefix.strip()) + "%")
    if flt.origin_country:
        where.append("origin_country = ? COLLATE NOCASE")
        params.append(flt.origin_country)
    if flt.on_ground is not None:
        where.append("on_ground = ?")
        params.append(flt.on_ground)
    if flt.since is not None:
        where.append("last_contact >= ?")
        params.append(flt.since.timestamp())
    return " AND ".join(where), params


class SqliteFlightRepository:
    """``FlightRepository`` on SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def put_states(self, states: Sequence[FlightState]) -> PutResult:
        rows = [state_row(s) for s in states]
        with self._db.transaction() as conn:
            # Rowids only grow within a write transaction: the rows above the highest
            # before the insert are the states this put stored.
            (top,) = conn.execute("SELECT coalesce(max(rowid), 0) FROM states").fetchone()
            conn.executemany(_PUT_HISTORY, rows)
            added = set(conn.execute("SELECT icao24, time FROM states WHERE rowid > ?", (top,)))
            conn.executemany(_UPSERT_LATEST, rows)
        new = []
        for state, row in zip(states, rows, strict=True):
            if (row[0], row[1]) in added:
                added.discard((row[0], row[1]))  # a key repeated in the batch: its first state
                new.append(state)
        return PutResult(stored=len(new), duplicates=len(rows) - len(new), new=new)

    @inline
    def latest(self, icao24: str) -> FlightState | None:
        rows = self._db.read(f"SELECT {COLUMNS} FROM latest WHERE icao24 = ?", (icao24,))
        return state_from_row(rows[0]) if rows else None

    @inline
    def latest_many(self, icao24s: Sequence[str]) -> dict[str, FlightState]:
        if not icao24s:
            return {}
        marks = ", ".join("?" * len(icao24s))
        rows = self._db.read(
            f"SELECT {COLUMNS} FROM latest WHERE icao24 IN ({marks})", list(icao24s)
        )
        return {row[0]: state_from_row(row) for row in rows}

    def stored_mark(self) -> int:
        """A mark of what is stored now, for ``latest_stored_after``."""
        return int(self._db.scalar("SELECT coalesce(max(rowid), 0) FROM states"))

    def latest_stored_after(
        self, mark: int, upto: int | None = None, as_of: int | None = None
    ) -> tuple[list[FlightState], int]:
        """The latest state of each aircraft whose latest state was stored after ``mark``
        (and at ``upto`` at the latest), as they stood at mark ``as_of`` (``upto``, else
        now), and the mark read up to: one indexed read of the newest rows, however many
        aircraft are live. A read of a mark's states in parts gives each part the mark
        as ``as_of``; states stored after it change nothing, so a cycle committed during
        the read of the one before does not take its aircraft out of that one."""
        top = self.stored_mark() if upto is None else upto
        rows = self._db.read(
            f"SELECT {_STORED_COLUMNS} FROM states s WHERE s.rowid > ? AND s.rowid <= ? "
            "AND NOT EXISTS (SELECT 1 FROM states n WHERE n.icao24 = s.icao24 "
            "AND n.time > s.time AND n.rowid <= ?)",
            (mark, top, top if as_of is None else as_of),
        )
        return [state_from_row(row) for row in rows], top

    def search_latest(
        self, flt: FlightFilter, *, first: int, after: str | None = None
    ) -> Page[FlightState]:
        clause, params = _filter_clause(flt)
        return self._db.keyset_page(
            table="latest",
            columns=COLUMNS,
            where=clause,
            params=params,
            key="icao24",
            kind="flights",
            first=first,
            after=after,
            build=state_from_row,
        )

    def all_latest(self, flt: FlightFilter) -> list[FlightState]:
        clause, params = _filter_clause(flt)
        rows = self._db.read(f"SELECT {COLUMNS} FROM latest WHERE {clause} ORDER BY icao24", params)
        return [state_from_row(row) for row in rows]

    @inline
    def tracks(
        self, icao24s: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[FlightState]]:
        if not icao24s:
            return {}
        marks = ", ".join("?" * len(icao24s))
        rows = self._db.read(
            f"SELECT {COLUMNS} FROM states WHERE icao24 IN ({marks}) "
            "AND time BETWEEN ? AND ? ORDER BY icao24, time",
            [*icao24s, start.timestamp(), end.timestamp()],
        )
        result: dict[str, list[FlightState]] = {code: [] for code in icao24s}
        for row in rows:
            result[row[0]].append(state_from_row(row))
        return result

    def by_region_hour(self, region: str, hour: datetime) -> list[FlightState]:
        rows = self._db.read(
            f"SELECT {COLUMNS} FROM states WHERE region = ? AND hour = ? ORDER BY icao24, time",
            (region, int(hour.timestamp() // 3600)),
        )
        return [state_from_row(r) for r in rows]

    def newest_contact(self) -> datetime | None:
        value = self._db.scalar("SELECT max(last_contact) FROM latest")
        return None if value is None else datetime.fromtimestamp(value, UTC)

    def prune(self, before: datetime) -> int:
        cutoff = before.timestamp()
        with self._db.transaction() as conn:
            removed = conn.execute("DELETE FROM states WHERE time < ?", (cutoff,)).rowcount
            conn.execute("DELETE FROM latest WHERE last_contact < ?", (cutoff,))
        return int(removed)
