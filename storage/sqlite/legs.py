"""Route legs in SQLite, keyed ``(icao24, departed_at)``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from domain.leg import Leg
from storage.offload import inline
from storage.sqlite.db import SqliteDatabase


def _route(body: bytes) -> Leg:
    return Leg.model_validate_json(body)


class SqliteLegRepository:
    """``LegRepository`` on SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def put_legs(self, routes: Sequence[Leg]) -> None:
        now = datetime.now(UTC).timestamp()
        rows = [
            (
                r.icao24,
                r.departed_at.timestamp(),
                None if r.arrived_at is None else r.arrived_at.timestamp(),
                now,
                r.model_dump_json().encode(),
            )
            for r in routes
        ]
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO routes (icao24, departed_at, arrived_at, updated_at, body) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    @inline
    def current(self, icao24s: Sequence[str]) -> dict[str, Leg]:
        if not icao24s:
            return {}
        marks = ", ".join("?" * len(icao24s))
        rows = self._db.read(
            f"SELECT icao24, body, max(departed_at) FROM routes WHERE icao24 IN ({marks}) "
            "GROUP BY icao24",
            list(icao24s),
        )
        return {code: _route(body) for code, body, _ in rows}

    def in_flight(self, since: datetime) -> list[Leg]:
        rows = self._db.read(
            "SELECT body FROM routes WHERE arrived_at IS NULL AND updated_at >= ?",
            (since.timestamp(),),
        )
        return [_route(body) for (body,) in rows]

    def completed(self, since: datetime, until: datetime) -> list[Leg]:
        rows = self._db.read(
            "SELECT body FROM routes WHERE arrived_at BETWEEN ? AND ? ORDER BY arrived_at",
            (since.timestamp(), until.timestamp()),
        )
        return [_route(body) for (body,) in rows]
