"""Key records in the service's own store: SQLite (embedded) or the DynamoDB ops table.

SQLite: table ``api_keys`` (``storage/sqlite/db.py`` creates it), one row per key.

DynamoDB, in the ops table's single-table layout (``storage/dynamodb/tables.py``):

| item     | pk       | sk     | attributes                                               |
|----------|----------|--------|----------------------------------------------------------|
| API key  | APIKEY   | key id | name, scopes (SS), tier, key_hash, created_at,           |
|          |          |        | expires_at_s, revoked_at, rotated_to                     |

One partition holds every key: there are few, ``list`` is one query and ``get`` one
strongly consistent read by key. The expiry is ``expires_at_s``, not the table's TTL
attribute ``expires_at``: an expired key stays listed (and answers "expired", not
"unknown") until it is deleted by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from security.keys import ApiKey, KeyRepository
from storage.sqlite.db import SqliteDatabase

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

    from storage.dynamodb._client import DynamoClientProtocol, Item
    from storage.factory import Stores

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


class SqliteKeyStore:
    """``KeyRepository`` on the embedded SQLite file. Thread-safe as ``SqliteDatabase``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

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

    def get(self, key_id: str) -> ApiKey | None:
        rows = self._db.read(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
        return _from_row(rows[0]) if rows else None

    def list(self) -> list[ApiKey]:
        return [_from_row(r) for r in self._db.read(f"SELECT {_COLUMNS} FROM api_keys")]


def _n(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}


def _item(key: ApiKey) -> Item:
    item: Item = {
        "pk": {"S": "APIKEY"},
        "sk": {"S": key.key_id},
        "name": {"S": key.name},
        "scopes": {"SS": sorted(key.scopes)},
        "tier": {"S": key.tier},
        "key_hash": {"S": key.key_hash},
        "created_at": _n(key.created_at),
        "expires_at_s": _n(key.expires_at),
    }
    if key.revoked_at is not None:
        item["revoked_at"] = _n(key.revoked_at)
    if key.rotated_to is not None:
        item["rotated_to"] = {"S": key.rotated_to}
    return item


def _from_item(item: Item) -> ApiKey:
    return ApiKey(
        key_id=item["sk"]["S"],
        name=item["name"]["S"],
        scopes=frozenset(item["scopes"]["SS"]),
        tier=item["tier"]["S"],
        key_hash=item["key_hash"]["S"],
        created_at=float(item["created_at"]["N"]),
        expires_at=float(item["expires_at_s"]["N"]),
        revoked_at=float(item["revoked_at"]["N"]) if "revoked_at" in item else None,
        rotated_to=item["rotated_to"]["S"] if "rotated_to" in item else None,
    )


class DynamoKeyStore:
    """``KeyRepository`` on the ops table. Thread-safe (botocore clients are)."""

    def __init__(self, client: DynamoClientProtocol, table: str) -> None:
        from storage.dynamodb._client import Dynamo

        self._dynamo = Dynamo(client, workers=1)
        self._client = client
        self._table = table

    def put(self, key: ApiKey) -> None:
        self._dynamo.call(self._client.put_item, TableName=self._table, Item=_item(key))

    def get(self, key_id: str) -> ApiKey | None:
        found = self._dynamo.call(
            self._client.get_item,
            TableName=self._table,
            Key={"pk": {"S": "APIKEY"}, "sk": {"S": key_id}},
            ConsistentRead=True,
        ).get("Item")
        return None if found is None else _from_item(found)

    def list(self) -> list[ApiKey]:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "APIKEY"}},
            "ConsistentRead": True,
        }
        return [_from_item(i) for i in self._dynamo.query(request)]


def open_key_store(stores: Stores) -> KeyRepository:
    """The key store beside ``stores``: their SQLite file, or their DynamoDB ops table."""
    from storage.dynamodb import DynamoStores

    backend = stores.backend
    if isinstance(backend, SqliteDatabase):
        return SqliteKeyStore(backend)
    if isinstance(backend, DynamoStores):
        return DynamoKeyStore(backend.client, backend.names.ops)
    raise TypeError(f"no API key store for a {type(backend).__name__} backend")
