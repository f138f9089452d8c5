"""States waiting for Parquet in SQLite: table ``processed_pending`` (``storage/sqlite/db.py``).

A cycle stages the keys of the states it stored in its own transaction, so a state is
staged if and only if it was stored. A Parquet write first claims every staged key under a
new flush id (one transaction), writes its files under names made from that id, then
releases the keys; a write cut short leaves its claim, which the next ``claim`` returns, so
the same files are written again with the same rows and overwrite the partial ones.
Thread-safe as ``SqliteDatabase``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from domain import FlightState
from storage.sqlite.db import SqliteDatabase
from storage.sqlite.flights import COLUMNS, state_from_row

_JOINED = ", ".join(f"s.{c.strip()}" for c in COLUMNS.split(","))


class SqliteProcessedStaging:
    """``ProcessedStaging`` on the embedded SQLite file."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def stage(self, states: Sequence[FlightState]) -> None:
        rows = [(s.icao24, s.time.timestamp()) for s in states]
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO processed_pending (icao24, time) VALUES (?, ?)", rows
            )

    def claim(self) -> str | None:
        with self._db.transaction() as conn:
            held = conn.execute(
                "SELECT flush FROM processed_pending WHERE flush IS NOT NULL LIMIT 1"
            ).fetchone()
            if held is not None:
                return str(held[0])
            flush_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
            cur = conn.execute(
                "UPDATE processed_pending SET flush = ? WHERE flush IS NULL", (flush_id,)
            )
            return flush_id if cur.rowcount else None

    def claimed(self, flush_id: str, page: int = 2_000) -> Iterator[list[FlightState]]:
        """The states of ``flush_id`` in pages of ``page``, by aircraft and time."""
        after: tuple[str, float] = ("", -math.inf)
        with self._db.scanning():
            while rows := self._db.read(
                f"SELECT {_JOINED} FROM processed_pending p JOIN states s "
                "ON s.icao24 = p.icao24 AND s.time = p.time WHERE p.flush = ? "
                "AND (p.icao24, p.time) > (?, ?) ORDER BY p.icao24, p.time LIMIT ?",
                (flush_id, *after, page),
            ):
                after = (rows[-1][0], rows[-1][1])
                yield [state_from_row(r) for r in rows]

    def release(self, flush_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM processed_pending WHERE flush = ?", (flush_id,))

    def pending(self) -> int:
        """How many stored states are not yet in Parquet."""
        return int(self._db.scalar("SELECT count(*) FROM processed_pending"))
