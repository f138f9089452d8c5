"""API key records in the embedded SQLite file: table ``api_keys`` (``storage/sqlite/db.py``
creates it), one row per key; and table ``api_key_changes``, one row whose ``generation``
each put adds one to in the same transaction (created here, on first open)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.api_key import ApiKey
from storage.offload import inline
from storage.sqlite.db import SqliteDatabase

_CHANGES = """
CREATE TABLE IF NOT EXISTS api_key_changes (generation INTEGER NOT NULL);
INSERT INTO api_key_changes SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM api_key_changes);
"""
_COLUMNS = "key_id, name, scopes, tier, key_hash, created_at, expires_at, revoked_at, rotated_to"


def _from_row(row: Sequence[Any]) -> ApiKey:
    return ApiKey(
        key_id=row[0],
        name=row[1],
        scopes=frozenset(row[2].split(",")),
        tier=row[3],
        key_hash=row[4],
        created_at=row[5],
        expires_at=row[6],
        revoked_at=row[7],
        rotated_to=row[8],
    )


class SqliteApiKeyRepository:
    """``ApiKeyRepository`` on the embedded SQLite file. Thread-safe as ``SqliteDatabase``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        with db.transaction() as conn:
            for statement in filter(str.strip, _CHANGES.split(";")):
                conn.execute(statement)

    def put(self, key: ApiKey) -> None:
        row = (
            key.key_id,
            key.name,
            ",".join(sorted(key.scopes)),
            key.tier,
            key.key_hash,
            key.created_at,
            key.expires_at,
            key.revoked_at,
            key.rotated_to,
        )
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO api_keys ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", row
            )
            conn.execute("UPDATE api_key_changes SET generation = generation + 1")

    @inline
    def get(self, key_id: str) -> ApiKey | None:
        rows = self._db.read(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
        return _from_row(rows[0]) if rows else None

    @inline
    def generation(self) -> int:
        return int(self._db.scalar("SELECT generation FROM api_key_changes"))

    def list(self) -> list[ApiKey]:
        return [_from_row(r) for r in self._db.read(f"SELECT {_COLUMNS} FROM api_keys")]
