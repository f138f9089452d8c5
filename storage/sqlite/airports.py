"""Airports in SQLite, with an in-memory grid for nearest-airport look-ups."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from domain import Airport
from domain.runway import Runway
from storage.base import AirportFilter, NearestAirport, Page, offset_page
from storage.offload import inline
from storage.spatial import AirportGrid, NearestAirports
from storage.sqlite._like import escape_like
from storage.sqlite.db import SqliteDatabase

_COLUMNS = (
    "icao, iata, name, city, country, region, latitude, longitude, elevation_m, type, time_zone"
)
# OurAirports has no time zones: an import keeps the one airportsdata gave.
_UPSERT = (
    f"INSERT INTO airports ({_COLUMNS}) VALUES ({', '.join('?' * 11)}) "
    "ON CONFLICT (icao) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", ")[1:-1])
    + ", time_zone = coalesce(excluded.time_zone, airports.time_zone)"
)
# Several airports can share an IATA code in the data: prefer the bigger one.
_TYPE_RANK = (
    "CASE WHEN type = 'large_airport' THEN 0 WHEN type = 'medium_airport' THEN 1 "
    "WHEN type = 'small_airport' THEN 2 WHEN type IS NULL THEN 3 ELSE 4 END"
)


def _airport_from_row(row: Sequence[Any]) -> Airport:
    return Airport.trusted(
        {
            "icao": row[0],
            "iata": row[1],
            "name": row[2],
            "city": row[3],
            "country": row[4],
            "region": row[5],
            "latitude": row[6],
            "longitude": row[7],
            "elevation_m": row[8],
            "type": row[9],
            "time_zone": row[10],
        }
    )


def _filter_clause(flt: AirportFilter) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if flt.country:
        where.append("country = ? COLLATE NOCASE")
        params.append(flt.country)
    if flt.region:
        where.append("region = ? COLLATE NOCASE")
        params.append(flt.region)
    if flt.search:
        text = flt.search.strip()
        pattern = "%" + escape_like(text) + "%"
        where.append(
            "(icao = ? COLLATE NOCASE OR iata = ? COLLATE NOCASE "
            "OR name LIKE ? ESCAPE '\\' OR city LIKE ? ESCAPE '\\')"
        )
        params += [text, text, pattern, pattern]
    return where, params


class SqliteAirportRepository:
    """``AirportRepository`` on SQLite. The grid is rebuilt after each put."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self._grid: AirportGrid | None = None
        self._nearest: dict[float, NearestAirports] = {}
        self._grid_lock = threading.Lock()

    def put_airports(self, airports: Sequence[Airport]) -> int:
        rows = [
            (
                a.icao,
                a.iata,
                a.name,
                a.city,
                a.country,
                a.region,
                a.latitude,
                a.longitude,
                a.elevation_m,
                a.type,
                a.time_zone,
            )
            for a in airports
        ]
        with self._db.transaction() as conn:
            conn.executemany(_UPSERT, rows)
        with self._grid_lock:
            self._grid = None
            self._nearest = {}
        return len(rows)

    def put_runways(self, runways: Sequence[Runway]) -> int:
        by_airport: dict[str, list[Runway]] = defaultdict(list)
        for runway in runways:
            by_airport[runway.airport_icao].append(runway)
        rows = [
            (code, i, runway.model_dump_json().encode())
            for code, group in by_airport.items()
            for i, runway in enumerate(group)
        ]
        with self._db.transaction() as conn:
            conn.executemany(
                "DELETE FROM runways WHERE airport_icao = ?", [(c,) for c in by_airport]
            )
            conn.executemany(
                "INSERT INTO runways (airport_icao, position, body) VALUES (?, ?, ?)", rows
            )
        return len(rows)

    @inline
    def runways(self, codes: Sequence[str]) -> dict[str, list[Runway]]:
        found: dict[str, list[Runway]] = {code.upper(): [] for code in codes}
        if not codes:
            return found
        marks = ", ".join("?" * len(found))
        rows = self._db.read(
            f"SELECT airport_icao, body FROM runways WHERE airport_icao IN ({marks}) "
            "ORDER BY airport_icao, position",
            list(found),
        )
        for code, body in rows:
            found[code].append(Runway.model_validate_json(body))
        return found

    def count(self) -> int:
        return int(self._db.scalar("SELECT count(*) FROM airports"))

    @inline
    def by_icao(self, code: str) -> Airport | None:
        rows = self._db.read(f"SELECT {_COLUMNS} FROM airports WHERE icao = ?", (code.upper(),))
        return _airport_from_row(rows[0]) if rows else None

    @inline
    def by_iata(self, code: str) -> Airport | None:
        rows = self._db.read(
            f"SELECT {_COLUMNS} FROM airports WHERE iata = ? ORDER BY {_TYPE_RANK}, icao LIMIT 1",
            (code.upper(),),
        )
        return _airport_from_row(rows[0]) if rows else None

    @inline
    def many_by_icao(self, codes: Sequence[str]) -> dict[str, Airport]:
        if not codes:
            return {}
        marks = ", ".join("?" * len(codes))
        rows = self._db.read(
            f"SELECT {_COLUMNS} FROM airports WHERE icao IN ({marks})", [c.upper() for c in codes]
        )
        return {row[0]: _airport_from_row(row) for row in rows}

    def search(self, flt: AirportFilter, *, first: int, after: str | None = None) -> Page[Airport]:
        where, params = _filter_clause(flt)
        if flt.near is not None:
            return self._search_near(flt, where, params, first=first, after=after)
        return self._db.keyset_page(
            table="airports",
            columns=_COLUMNS,
            where=" AND ".join(where) or "1",
            params=params,
            key="icao",
            kind="airports",
            first=first,
            after=after,
            build=_airport_from_row,
        )

    def _search_near(
        self,
        flt: AirportFilter,
        where: list[str],
        params: list[Any],
        *,
        first: int,
        after: str | None,
    ) -> Page[Airport]:
        assert flt.near is not None
        found = self._airport_grid().within(flt.near.latitude, flt.near.longitude, flt.radius_km)
        if where:
            sql = f"SELECT icao FROM airports WHERE {' AND '.join(where)}"
            allowed = {row[0] for row in self._db.read(sql, params)}
            found = [n for n in found if n.airport.icao in allowed]
        page = offset_page(found, kind="airports-near", first=first, after=after)
        return Page(
            items=[n.airport for n in page.items],
            cursors=page.cursors,
            total_count=page.total_count,
            has_next_page=page.has_next_page,
        )

    def _airport_grid(self) -> AirportGrid:
        with self._grid_lock:
            if self._grid is None:
                rows = self._db.read(f"SELECT {_COLUMNS} FROM airports")
                self._grid = AirportGrid([_airport_from_row(r) for r in rows])
            return self._grid

    @inline
    def nearest(
        self, points: Sequence[tuple[float, float]], radius_km: float
    ) -> list[NearestAirport | None]:
        with self._grid_lock:
            lookup = self._nearest.get(radius_km)
        if lookup is None:
            rows = self._db.read(f"SELECT {_COLUMNS} FROM airports")
            lookup = NearestAirports([_airport_from_row(r) for r in rows], radius_km)
            with self._grid_lock:
                self._nearest[radius_km] = lookup
        return lookup(points)
