"""API key records in the DynamoDB ops table's single-table layout
(``storage/dynamodb/tables.py``):

| item     | pk       | sk     | attributes                                               |
|----------|----------|--------|----------------------------------------------------------|
| API key  | APIKEY   | key id | name, scopes (SS), tier, key_hash, created_at,           |
|          |          |        | expires_at_s, revoked_at, rotated_to                     |
| changes  | APIKEYS  | changes| generation (N): one more after each put                  |

One partition holds every key: there are few, ``list`` is one query and ``get`` one
strongly consistent read by key. The expiry is ``expires_at_s``, not the table's TTL
attribute ``expires_at``: an expired key stays listed (and answers "expired", not
"unknown") until it is deleted by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.api_key import ApiKey
from storage.dynamodb._client import Dynamo, DynamoClientProtocol
from storage.dynamodb._states import number_value

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

    from storage.dynamodb._client import Item


_CHANGES: Item = {"pk": {"S": "APIKEYS"}, "sk": {"S": "changes"}}


def _item(key: ApiKey) -> Item:
    item: Item = {
        "pk": {"S": "APIKEY"},
        "sk": {"S": key.key_id},
        "name": {"S": key.name},
        "scopes": {"SS": sorted(key.scopes)},
        "tier": {"S": key.tier},
        "key_hash": {"S": key.key_hash},
        "created_at": number_value(key.created_at),
        "expires_at_s": number_value(key.expires_at),
    }
    if key.revoked_at is not None:
        item["revoked_at"] = number_value(key.revoked_at)
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


class DynamoApiKeyRepository:
    """``ApiKeyRepository`` on the ops table. Thread-safe (botocore clients are)."""

    def __init__(self, client: DynamoClientProtocol, table: str) -> None:
        self._dynamo = Dynamo(client, workers=1)
        self._client = client
        self._table = table

    def put(self, key: ApiKey) -> None:
        self._dynamo.call(self._client.put_item, TableName=self._table, Item=_item(key))
        self._dynamo.call(
            self._client.update_item,
            TableName=self._table,
            Key=_CHANGES,
            UpdateExpression="ADD generation :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def generation(self) -> int:
        found = self._dynamo.call(
            self._client.get_item, TableName=self._table, Key=_CHANGES, ConsistentRead=True
        ).get("Item")
        return 0 if found is None else int(found["generation"]["N"])

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

    def close(self) -> None:
        self._dynamo.close()
