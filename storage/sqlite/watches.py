"""Watched aircraft (``WatchRepository``) in the embedded SQLite file: table ``watches``,
one row per aircraft with the end of its watch (created here, on first open). A watch
that ran out is deleted by the next ``watch``."""

from __future__ import annotations

import time
from datetime import datetime

from storage.sqlite.db import SqliteDatabase

_TABLE = (
    "CREATE TABLE IF NOT EXISTS watches (icao24 TEXT PRIMARY KEY, until REAL NOT NULL) "
    "WITHOUT ROWID"
)


class SqliteWatchRepository:
    """``WatchRepository`` on the embedded SQLite file. Thread-safe as ``SqliteDatabase``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        with db.transaction() as conn:
            conn.execute(_TABLE)

    def watch(self, icao24: str, until: datetime) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM watches WHERE until <= ?", (time.time(),))
            conn.execute(
                "INSERT INTO watches (icao24, until) VALUES (?, ?) ON CONFLICT (icao24) "
                "DO UPDATE SET until = max(until, excluded.until)",
                (icao24, until.timestamp()),
            )

    def watched(self, now: datetime) -> set[str]:
        rows = self._db.read("SELECT icao24 FROM watches WHERE until > ?", (now.timestamp(),))
        return {row[0] for row in rows}
