"""API Gateway WebSocket connections and their GraphQL subscriptions, in the connections
table (``tables.CONNECTIONS``: ``connection_id`` S H, ``sk`` S R, TTL on ``expires_at``).

| item         | connection_id | sk          | attributes                                      |
|--------------|---------------|-------------|-------------------------------------------------|
| connection   | the id        | CONNECTION  | endpoint, connected_at, acked (BOOL)            |
| subscription | the id        | SUB#op-id   | field, query, variables (JSON), operation_name, |
|              |               |             | endpoint, bbox (L: 4 N), icao24 (SS), view (B), |
|              |               |             | last_time, version                              |

Every item expires (``expires_at``) a little after API Gateway's two-hour limit on a
connection, so the items of a connection whose ``$disconnect`` never ran go by themselves.

The fan-out lists every subscription with one strongly consistent ``Scan``: the table holds
nothing else than the live connections, and every subscription item must be read on every
cycle anyway (its view changes), so an index would only double the writes.

``view`` is what a subscriber sees (``icao24`` -> last contact, epoch seconds), columnar
and zlib-compressed: the sorted addresses as 3 bytes each, then the times as little-endian
float64, exact. 20,000 aircraft (a world-wide box) take ~155 kB, under DynamoDB's 400 KB
item limit; above ``MAX_VIEW_BYTES`` the repository refuses with ``ViewTooLarge``.
``version`` guards view updates: a writer that read an older version loses the race
instead of overwriting newer state. Thread-safe.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson

from storage.dynamodb._client import Backoff, ConditionFailed, Dynamo, DynamoClientProtocol
from storage.dynamodb._states import number_value
from storage.dynamodb.tables import TTL_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, WriteRequestTypeDef

    from storage.dynamodb._client import Item, Key

CONNECTION = "CONNECTION"
_SUB = "SUB#"
MAX_VIEW_BYTES = 300_000
# API Gateway closes a WebSocket connection after two hours at most.
DEFAULT_TTL = timedelta(hours=2, minutes=30)


class ViewTooLarge(ValueError):
    """A subscription's view does not fit in one item; ``size`` is its encoded bytes."""

    def __init__(self, aircraft: int, size: int) -> None:
        super().__init__(f"{aircraft} aircraft take {size} bytes, over {MAX_VIEW_BYTES}")
        self.aircraft = aircraft
        self.size = size


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    connection_id: str
    endpoint: str
    connected_at: float
    acked: bool


@dataclass(slots=True)
class SubscriptionRecord:
    """One subscribe operation of a connection, with what its subscriber has seen."""

    connection_id: str
    id: str
    root_field: str
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    endpoint: str
    bbox: tuple[float, float, float, float] | None = None
    icao24: frozenset[str] | None = None
    view: dict[str, float] = field(default_factory=dict)
    last_time: float | None = None
    version: int = 0


def encode_view(view: Mapping[str, float]) -> bytes:
    codes = sorted(view)
    packed = bytes.fromhex("".join(codes)) + struct.pack(f"<{len(codes)}d", *map(view.get, codes))
    return zlib.compress(packed, 6)


def decode_view(blob: bytes) -> dict[str, float]:
    packed = zlib.decompress(blob)
    n = len(packed) // 11
    codes = packed[: 3 * n].hex()
    times = struct.unpack(f"<{n}d", packed[3 * n :])
    return {codes[6 * i : 6 * i + 6]: t for i, t in enumerate(times)}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class DynamoConnectionRepository:
    """The connections table of one WebSocket API."""

    def __init__(
        self,
        client: DynamoClientProtocol,
        table: str,
        *,
        ttl: timedelta = DEFAULT_TTL,
        backoff: Backoff | None = None,
        scan_segments: int = 4,
    ) -> None:
        self._dynamo = Dynamo(client, backoff=backoff, workers=scan_segments)
        self._client = client
        self._table = table
        self._ttl_s = int(ttl.total_seconds())
        self._segments = scan_segments

    def close(self) -> None:
        self._dynamo.close()

    def _expires(self) -> dict[str, str]:
        return {"N": str(int(time.time()) + self._ttl_s)}

    # --- connections -----------------------------------------------------------------------

    def connect(self, connection_id: str, endpoint: str, connected_at: float) -> None:
        item: Item = {
            "connection_id": _s(connection_id),
            "sk": _s(CONNECTION),
            "endpoint": _s(endpoint),
            "connected_at": number_value(connected_at),
            "acked": {"BOOL": False},
            TTL_ATTRIBUTE: self._expires(),
        }
        self._dynamo.call(self._client.put_item, TableName=self._table, Item=item)

    def connection(self, connection_id: str) -> ConnectionRecord | None:
        item = self._dynamo.call(
            self._client.get_item,
            TableName=self._table,
            Key=self._key(connection_id, CONNECTION),
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        return ConnectionRecord(
            connection_id=connection_id,
            endpoint=item["endpoint"]["S"],
            connected_at=float(item["connected_at"]["N"]),
            acked=bool(item["acked"]["BOOL"]),
        )

    def acknowledge(self, connection_id: str) -> bool:
        """Mark the connection initialised; ``False`` if it was already (or is unknown)."""
        try:
            self._dynamo.call(
                self._client.update_item,
                TableName=self._table,
                Key=self._key(connection_id, CONNECTION),
                UpdateExpression="SET acked = :yes",
                ConditionExpression="attribute_exists(sk) AND acked = :no",
                ExpressionAttributeValues={":yes": {"BOOL": True}, ":no": {"BOOL": False}},
            )
        except ConditionFailed:
            return False
        return True

    def disconnect(self, connection_id: str) -> int:
        """Delete the connection and its subscriptions; returns the items deleted."""
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "connection_id = :c",
            "ExpressionAttributeValues": {":c": _s(connection_id)},
            "ProjectionExpression": "connection_id, sk",
            "ConsistentRead": True,
        }
        deletes: list[WriteRequestTypeDef] = [
            {"DeleteRequest": {"Key": {"connection_id": i["connection_id"], "sk": i["sk"]}}}
            for i in self._dynamo.query(request)
        ]
        self._dynamo.write(self._table, deletes)
        return len(deletes)

    # --- subscriptions ---------------------------------------------------------------------

    def has_subscription(self, connection_id: str, subscription_id: str) -> bool:
        found = self._dynamo.call(
            self._client.get_item,
            TableName=self._table,
            Key=self._key(connection_id, _SUB + subscription_id),
            ConsistentRead=True,
            ProjectionExpression="sk",
        )
        return "Item" in found

    def count_subscriptions(self, connection_id: str) -> int:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "connection_id = :c AND begins_with(sk, :sub)",
            "ExpressionAttributeValues": {":c": _s(connection_id), ":sub": _s(_SUB)},
            "Select": "COUNT",
            "ConsistentRead": True,
        }
        count, page = 0, request
        while True:
            out = self._dynamo.call(self._client.query, **page)
            count += out.get("Count", 0)
            if "LastEvaluatedKey" not in out:
                return count
            page = {**request, "ExclusiveStartKey": out["LastEvaluatedKey"]}

    def add_subscription(self, sub: SubscriptionRecord) -> bool:
        """Store a new subscription; ``False`` if the connection already has its id.

        Raises ``ViewTooLarge`` when its view does not fit in an item."""
        try:
            self._dynamo.call(
                self._client.put_item,
                TableName=self._table,
                Item=self._item(sub),
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ConditionFailed:
            return False
        return True

    def save_view(self, sub: SubscriptionRecord) -> bool:
        """Write ``sub``'s view and last time if nobody has since ``sub`` was read (its
        ``version``) and it still exists; returns whether it was written."""
        values: Item = {
            ":view": {"B": self._view_blob(sub)},
            ":expected": number_value(sub.version),
            ":one": {"N": "1"},
        }
        update = "SET #view = :view, version = version + :one"
        if sub.last_time is not None:
            update += ", last_time = :last"
            values[":last"] = number_value(sub.last_time)
        try:
            self._dynamo.call(
                self._client.update_item,
                TableName=self._table,
                Key=self._key(sub.connection_id, _SUB + sub.id),
                UpdateExpression=update,
                ConditionExpression="version = :expected",
                ExpressionAttributeNames={"#view": "view"},
                ExpressionAttributeValues=values,
            )
        except ConditionFailed:
            return False
        sub.version += 1
        return True

    def remove_subscription(self, connection_id: str, subscription_id: str) -> None:
        self._dynamo.call(
            self._client.delete_item,
            TableName=self._table,
            Key=self._key(connection_id, _SUB + subscription_id),
        )

    def subscriptions(self) -> list[SubscriptionRecord]:
        """Every subscription of every connection (one consistent scan of the table)."""
        items = self._dynamo.scan(
            {
                "TableName": self._table,
                "FilterExpression": "begins_with(sk, :sub)",
                "ExpressionAttributeValues": {":sub": _s(_SUB)},
                "ConsistentRead": True,
            },
            segments=self._segments,
        )
        return [self._record(item) for item in items]

    # --- items -----------------------------------------------------------------------------

    @staticmethod
    def _key(connection_id: str, sk: str) -> Key:
        return {"connection_id": _s(connection_id), "sk": _s(sk)}

    @staticmethod
    def _view_blob(sub: SubscriptionRecord) -> bytes:
        blob = encode_view(sub.view)
        if len(blob) > MAX_VIEW_BYTES:
            raise ViewTooLarge(len(sub.view), len(blob))
        return blob

    def _item(self, sub: SubscriptionRecord) -> Item:
        item: Item = {
            **self._key(sub.connection_id, _SUB + sub.id),
            "field": _s(sub.root_field),
            "query": _s(sub.query),
            "endpoint": _s(sub.endpoint),
            "view": {"B": self._view_blob(sub)},
            "version": number_value(sub.version),
            TTL_ATTRIBUTE: self._expires(),
        }
        if sub.variables is not None:
            item["variables"] = _s(orjson.dumps(sub.variables).decode())
        if sub.operation_name is not None:
            item["operation_name"] = _s(sub.operation_name)
        if sub.bbox is not None:
            item["bbox"] = {"L": [number_value(v) for v in sub.bbox]}
        if sub.icao24 is not None:
            item["icao24"] = {"SS": sorted(sub.icao24)}
        if sub.last_time is not None:
            item["last_time"] = number_value(sub.last_time)
        return item

    @staticmethod
    def _record(item: Item) -> SubscriptionRecord:
        codes = item.get("icao24")
        last = item.get("last_time")
        bbox = None
        if "bbox" in item:
            south, west, north, east = (float(v["N"]) for v in item["bbox"]["L"])
            bbox = (south, west, north, east)
        return SubscriptionRecord(
            connection_id=item["connection_id"]["S"],
            id=item["sk"]["S"].removeprefix(_SUB),
            root_field=item["field"]["S"],
            query=item["query"]["S"],
            variables=orjson.loads(item["variables"]["S"]) if "variables" in item else None,
            operation_name=item["operation_name"]["S"] if "operation_name" in item else None,
            endpoint=item["endpoint"]["S"],
            bbox=bbox,
            icao24=frozenset(codes["SS"]) if codes else None,
            view=decode_view(bytes(item["view"]["B"])),
            last_time=float(last["N"]) if last else None,
            version=int(item["version"]["N"]),
        )
