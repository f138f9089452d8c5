"""Watched aircraft (``WatchRepository``) in the embedded SQLite file: table ``watches``,
one row per subscription field and aircraft with the end of its watch (created here, on
first open). A watch that ran out is deleted by the next ``watch``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from storage.sqlite.db import SqliteDatabase

_TABLE = """
CREATE TABLE IF NOT EXISTS watches (
    field TEXT NOT NULL, icao24 TEXT NOT NULL, until REAL NOT NULL,
    PRIMARY KEY (field, icao24)
) WITHOUT ROWID
"""


class SqliteWatchRepository:
    """``WatchRepository`` on the embedded SQLite file. Thread-safe as ``SqliteDatabase``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        with db.transaction() as conn:
            conn.execute(_TABLE)

    def watch(self, field: str, icao24s: Sequence[str], until: datetime) -> None:
        end = until.timestamp()
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM watches WHERE until <= ?", (time.time(),))
            conn.executemany(
                "INSERT INTO watches (field, icao24, until) VALUES (?, ?, ?) "
                "ON CONFLICT (field, icao24) DO UPDATE SET until = max(until, excluded.until)",
                [(field, code, end) for code in icao24s],
            )

    def watched(self, field: str, now: datetime) -> set[str]:
        rows = self._db.read(
            "SELECT icao24 FROM watches WHERE field = ? AND until > ?", (field, now.timestamp())
        )
        return {row[0] for row in rows}
