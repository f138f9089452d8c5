"""Rejected records in SQLite, with their reason and raw value."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from storage.base import DeadLetter, Page
from storage.sqlite.db import SqliteDatabase

_COLUMNS = "id, reason, detail, source, raw, received_at, attempts, cycle_id, observed_at"


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _letter(row: Sequence[Any]) -> DeadLetter:
    return DeadLetter(
        id=str(row[0]),
        reason=row[1],
        detail=row[2],
        source=row[3],
        raw=orjson.loads(row[4]),
        received_at=datetime.fromtimestamp(row[5], UTC),
        attempts=row[6],
        cycle_id=row[7],
        observed_at=None if row[8] is None else datetime.fromtimestamp(row[8], UTC),
    )


def _dump(raw: object) -> bytes:
    try:
        return orjson.dumps(raw, default=str)
    except TypeError:
        # orjson stops at 64-bit integers; a payload parsed by the stdlib can hold more.
        return json.dumps(raw, default=str).encode()


def fingerprint(letter: DeadLetter, raw: bytes) -> bytes:
    """The identity of the rejected record, so that the same record rejected again (a
    re-run of the same body, the same stale state in the next cycle) is stored once: the
    state's key when it had become a state, else its raw value and snapshot time."""
    h = hashlib.blake2b(digest_size=16)
    h.update(letter.source.encode())
    if letter.key is not None:
        h.update(b"key:" + letter.reason.encode() + b":" + letter.key.encode())
    else:
        h.update(raw)
        h.update(str(_ts(letter.observed_at)).encode())
    return h.digest()


def _ids(ids: Sequence[str]) -> list[int]:
    return [int(i) for i in ids if str(i).isdigit()]


class SqliteDeadLetterRepository:
    """``DeadLetterRepository`` on SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def add(self, letters: Sequence[DeadLetter]) -> None:
        rows = []
        for d in letters:
            raw = _dump(d.raw)
            rows.append(
                (
                    d.reason,
                    d.detail,
                    d.source,
                    raw,
                    d.received_at.timestamp(),
                    d.attempts,
                    d.cycle_id,
                    _ts(d.observed_at),
                    fingerprint(d, raw),
                )
            )
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO dead_letters (reason, detail, source, raw, received_at, "
                "attempts, cycle_id, observed_at, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def get(self, ids: Sequence[str]) -> list[DeadLetter]:
        wanted = _ids(ids)
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        rows = self._db.read(
            f"SELECT {_COLUMNS} FROM dead_letters WHERE id IN ({marks}) ORDER BY id", wanted
        )
        return [_letter(r) for r in rows]

    def remove(self, ids: Sequence[str]) -> int:
        with self._db.transaction() as conn:
            cur = conn.executemany(
                "DELETE FROM dead_letters WHERE id = ?", [(i,) for i in _ids(ids)]
            )
            return int(cur.rowcount)

    def retried(self, ids: Sequence[str], reason: str, detail: str) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE dead_letters SET attempts = attempts + 1, reason = ?, detail = ? "
                "WHERE id = ?",
                [(reason, detail, i) for i in _ids(ids)],
            )

    def count(self, reason: str | None = None) -> int:
        if reason is None:
            return int(self._db.scalar("SELECT count(*) FROM dead_letters"))
        sql = "SELECT count(*) FROM dead_letters WHERE reason = ?"
        return int(self._db.scalar(sql, (reason,)))

    def prune(self, before: datetime) -> int:
        with self._db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM dead_letters WHERE received_at < ?", (before.timestamp(),)
            )
            return int(cur.rowcount)

    def reasons(self) -> dict[str, int]:
        rows = self._db.read("SELECT reason, count(*) FROM dead_letters GROUP BY reason")
        return {reason: int(n) for reason, n in rows}

    def list(
        self, *, first: int, after: str | None = None, reason: str | None = None
    ) -> Page[DeadLetter]:
        where: list[str] = ["1"]
        params: list[Any] = []
        if reason is not None:
            where.append("reason = ?")
            params.append(reason)
        return self._db.keyset_page(
            table="dead_letters",
            columns=_COLUMNS,
            where=" AND ".join(where),
            params=params,
            key="id",
            kind="dead-letters",
            first=first,
            after=after,
            build=_letter,
            key_type=int,
        )
