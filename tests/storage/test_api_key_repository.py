"""ApiKeyRepository contract, run against every backend (SQLite, DynamoDB Local)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from domain.api_key import ApiKey
from storage.base import ApiKeyRepository
from storage.sqlite import SqliteApiKeyRepository, SqliteDatabase
from storage.stores import Stores

T0 = 1_800_000_000.0


def key(key_id: str = "0123456789ab", **fields: object) -> ApiKey:
    values: dict[str, object] = {
        "key_id": key_id,
        "name": "maps",
        "scopes": frozenset({"read"}),
        "tier": "standard",
        "key_hash": "ab" * 32,
        "created_at": T0,
        "expires_at": T0 + 90 * 86400,
    }
    return ApiKey(**(values | fields))  # type: ignore[arg-type]


@pytest.fixture
def api_keys(stores: Stores) -> ApiKeyRepository:
    return stores.api_keys


def test_a_key_round_trips(api_keys: ApiKeyRepository) -> None:
    stored = key(scopes=frozenset({"read", "admin"}), revoked_at=T0 + 5, rotated_to="ba9876543210")
    api_keys.put(stored)

    assert api_keys.get(stored.key_id) == stored
    assert api_keys.list() == [stored]


def test_an_unknown_key_is_none(api_keys: ApiKeyRepository) -> None:
    assert api_keys.get("ffffffffffff") is None
    assert api_keys.list() == []


def test_putting_a_key_again_replaces_it(api_keys: ApiKeyRepository) -> None:
    first = key()
    api_keys.put(first)
    api_keys.put(revoked := replace(first, revoked_at=T0 + 60))
    api_keys.put(other := key("ba9876543210", name="dashboard"))

    assert api_keys.get(first.key_id) == revoked
    assert sorted(api_keys.list(), key=lambda k: k.key_id) == [revoked, other]


def test_every_put_moves_the_generation_every_process_sees(
    open_backend: Callable[[], Stores],
) -> None:
    here, there = open_backend().api_keys, open_backend().api_keys
    start = there.generation()
    here.put(first := key())
    after_create = there.generation()
    here.put(replace(first, revoked_at=T0 + 60))
    after_revoke = there.generation()

    assert start < after_create < after_revoke
    assert here.generation() == after_revoke


def test_the_keys_table_is_added_to_an_existing_database(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    SqliteDatabase(path).close()
    with sqlite3.connect(path) as old:  # as a file from before the keys table
        old.execute("DROP TABLE api_keys")
    db = SqliteDatabase(path)
    try:
        SqliteApiKeyRepository(db).put(stored := key())
        assert SqliteApiKeyRepository(db).list() == [stored]
    finally:
        db.close()
