"""Ingest cycle reports in SQLite, so every API process sees the ingest process's cycles."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import orjson

from domain.cycle import CycleReport
from storage.sqlite.commits import CommitWatch
from storage.sqlite.db import SqliteDatabase

_COLUMNS = (
    "cycle_id, source, started_at, finished_at, received, stored, rejected, duplicates, "
    "reasons, error, archive_key"
)
_KEEP = 10_000


class SqliteCycleRepository:
    """``CycleRepository`` on SQLite; keeps the most recent 10,000 cycles."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def commit_watch(self) -> CommitWatch:
        """What wakes a reader in another process when the store commits a cycle."""
        return CommitWatch(str(self._db.path))

    def put_cycle(self, report: CycleReport) -> None:
        row = (
            report.cycle_id,
            report.source,
            report.started_at.timestamp(),
            None if report.finished_at is None else report.finished_at.timestamp(),
            report.received,
            report.stored,
            report.rejected,
            report.duplicates,
            orjson.dumps(dict(report.reasons)),
            report.error,
            report.archive_key,
        )
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO cycles ({_COLUMNS}) VALUES ({', '.join('?' * 11)})", row
            )
            conn.execute(
                "DELETE FROM cycles WHERE started_at < (SELECT started_at FROM cycles "
                "ORDER BY started_at DESC LIMIT 1 OFFSET ?)",
                (_KEEP,),
            )

    def recent_cycles(self, last: int) -> list[CycleReport]:
        rows = self._db.read(
            f"SELECT {_COLUMNS} FROM cycles ORDER BY started_at DESC LIMIT ?", (last,)
        )
        return [
            CycleReport(
                cycle_id=r[0],
                source=r[1],
                started_at=datetime.fromtimestamp(r[2], UTC),
                finished_at=None if r[3] is None else datetime.fromtimestamp(r[3], UTC),
                received=r[4],
                stored=r[5],
                rejected=r[6],
                duplicates=r[7],
                reasons=Counter(orjson.loads(r[8])),
                error=r[9],
                archive_key=r[10],
            )
            for r in rows
        ]
