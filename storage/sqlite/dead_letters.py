"""Rejected records in SQLite, with their reason and raw value."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from storage import cursor
from storage.base import DeadLetter, Page
from storage.sqlite.db import SqliteDatabase


class SqliteDeadLetterRepository:
    """``DeadLetterRepository`` on SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def add(self, letters: Sequence[DeadLetter]) -> None:
        rows = [
            (
                d.reason,
                d.detail,
                d.source,
                orjson.dumps(d.raw, default=str),
                d.received_at.timestamp(),
                d.attempts,
            )
            for d in letters
        ]
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO dead_letters (reason, detail, source, raw, received_at, attempts) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def count(self, reason: str | None = None) -> int:
        if reason is None:
            return int(self._db.scalar("SELECT count(*) FROM dead_letters"))
        return int(self._db.scalar("SELECT count(*) FROM dead_letters WHERE reason = ?", (reason,)))

    def list(
        self, *, first: int, after: str | None = None, reason: str | None = None
    ) -> Page[DeadLetter]:
        where: list[str] = ["1"]
        params: list[Any] = []
        if reason is not None:
            where.append("reason = ?")
            params.append(reason)
        total = self._db.scalar(
            f"SELECT count(*) FROM dead_letters WHERE {' AND '.join(where)}", params
        )
        if after is not None:
            last_id = cursor.decode("dead-letters", after)
            if not isinstance(last_id, int):
                raise cursor.invalid(after)
            where.append("id > ?")
            params.append(last_id)
        rows = self._db.read(
            "SELECT id, reason, detail, source, raw, received_at, attempts FROM dead_letters "
            f"WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",
            [*params, first + 1],
        )
        items = [
            DeadLetter(
                id=str(r[0]),
                reason=r[1],
                detail=r[2],
                source=r[3],
                raw=orjson.loads(r[4]),
                received_at=datetime.fromtimestamp(r[5], UTC),
                attempts=r[6],
            )
            for r in rows[:first]
        ]
        return Page(
            items=items,
            cursors=[cursor.encode("dead-letters", int(r[0])) for r in rows[:first]],
            total_count=int(total),
            has_next_page=len(rows) > first,
        )
