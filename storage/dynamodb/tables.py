"""The DynamoDB tables as data, and their idempotent creation.

``flights`` and ``airports`` are exactly the architecture document's tables, plus a TTL on
``flights.expires_at`` for history retention; where the document leaves something out (the
projection of the airport indexes: ALL) the choice is noted. ``ops`` holds the rest.
Every table is PAY_PER_REQUEST.

| table    | key            | global secondary indexes (projection ALL) | also            |
|----------|----------------|-------------------------------------------|-----------------|
| flights  | icao24 S H,    | RegionTimeIndex: region_time S H,         | stream NEW_AND_ |
|          | timestamp N R  |                  timestamp N R            | OLD_IMAGES,     |
|          |                |                                           | PITR, TTL       |
| airports | icao_code S H  | CountryRegionIndex: country_region S H;   |                 |
|          |                | IataCodeIndex: iata_code S H              |                 |
| ops      | pk S H, sk S R | none                                      | TTL             |

Single-table layout of ``ops``. ``h`` is an icao24's last hex digit, spreading one kind of
item over 16 partitions; ``T(x)`` is epoch seconds formatted ``%020.6f`` so that strings
sort as times. TTL (``expires_at``) is set only where marked.

| item                  | pk                | sk                    | attributes              |
|-----------------------|-------------------|-----------------------|-------------------------|
| latest state          | LATEST#h          | icao24                | flight state; TTL       |
| newest contact        | META              | NEWEST_CONTACT        | last_contact            |
| dead letter           | DL                | id: 24 digits, by     | reason, detail, source, |
|                       |                   | time of insertion     | raw (zlib JSON), fp ... |
| letters of a reason   | DLR#reason        | id                    | (key only)              |
| fingerprint guard     | DLFP#fp           | -                     | id                      |
| letters per reason    | DLCOUNT           | reason                | n                       |
| cycle report          | CYCLE             | T(started_at)#id      | the report's fields     |
| cycle by id           | CYCLEID#id        | -                     | ref: the report's sk    |
| route leg             | ROUTE#icao24      | LEG#T(departed_at)    | body (Route JSON)       |
| current leg           | ROUTE#icao24      | CURRENT               | body, departed_at       |
| leg in flight         | ROUTEOPEN#h       | icao24#T(departed_at) | body, updated_at; TTL   |
| arrived leg           | ROUTEARR#YYYYMMDD | T(arrived_at)#icao24  | body                    |
|                       |                   | #T(departed_at)       |                         |
| runways of an airport | RWY#icao          | -                     | body (JSON list)        |
| watched aircraft      | WATCH#field       | icao24                | until; TTL              |

``connections`` (``CONNECTIONS``, not in ``TABLES``: only the WebSocket API of a Lambda
deployment has one, named by ``DYNAMODB_CONNECTIONS_TABLE``) holds API Gateway WebSocket
connections and their subscriptions, keyed ``connection_id`` S H + ``sk`` S R, TTL on
``expires_at``; its items are described in ``storage.dynamodb.connections``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from storage.base import StoreUnavailable
from storage.dynamodb._client import Dynamo, DynamoClientProtocol, DynamoUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.literals import KeyTypeType, ScalarAttributeTypeType
    from mypy_boto3_dynamodb.type_defs import (
        CreateTableInputTypeDef,
        GlobalSecondaryIndexTypeDef,
        KeySchemaElementTypeDef,
    )

log = logging.getLogger(__name__)

TTL_ATTRIBUTE = "expires_at"
REGION_TIME_INDEX = "RegionTimeIndex"
COUNTRY_REGION_INDEX = "CountryRegionIndex"
IATA_CODE_INDEX = "IataCodeIndex"


@dataclass(frozen=True, slots=True)
class DynamoNames:
    """The three table names (settings ``DYNAMODB_FLIGHTS_TABLE``, ``DYNAMODB_AIRPORTS_TABLE``,
    ``DYNAMODB_OPS_TABLE``)."""

    flights: str
    airports: str
    ops: str

    @classmethod
    def prefixed(cls, prefix: str) -> DynamoNames:
        return cls(f"{prefix}-flights", f"{prefix}-airports", f"{prefix}-ops")

    def __iter__(self) -> Iterator[str]:
        return iter((self.flights, self.airports, self.ops))


@dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str
    key: tuple[tuple[str, KeyTypeType], ...]

    def request(self) -> GlobalSecondaryIndexTypeDef:
        return {
            "IndexName": self.name,
            "KeySchema": _key_schema(self.key),
            "Projection": {"ProjectionType": "ALL"},
        }


def _key_schema(key: tuple[tuple[str, KeyTypeType], ...]) -> list[KeySchemaElementTypeDef]:
    return [{"AttributeName": a, "KeyType": k} for a, k in key]


@dataclass(frozen=True, slots=True)
class TableSpec:
    role: str  # the ``DynamoNames`` field naming the table (``connections``: a setting)
    attributes: tuple[tuple[str, ScalarAttributeTypeType], ...]  # key attributes only
    key: tuple[tuple[str, KeyTypeType], ...]
    indexes: tuple[IndexSpec, ...] = ()
    stream: bool = False
    point_in_time_recovery: bool = False
    ttl_attribute: str | None = field(default=None)

    def create_request(self, name: str, *, stream: bool = True) -> CreateTableInputTypeDef:
        request: CreateTableInputTypeDef = {
            "TableName": name,
            "AttributeDefinitions": [
                {"AttributeName": a, "AttributeType": t} for a, t in self.attributes
            ],
            "KeySchema": _key_schema(self.key),
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [index.request() for index in self.indexes]
        if self.stream and stream:
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            }
        return request


FLIGHTS = TableSpec(
    role="flights",
    attributes=(("icao24", "S"), ("timestamp", "N"), ("region_time", "S")),
    key=(("icao24", "HASH"), ("timestamp", "RANGE")),
    indexes=(IndexSpec(REGION_TIME_INDEX, (("region_time", "HASH"), ("timestamp", "RANGE"))),),
    stream=True,
    point_in_time_recovery=True,
    ttl_attribute=TTL_ATTRIBUTE,
)
# The document gives the airport indexes no projection; ALL lets an index query return
# whole airports without a GetItem per result.
AIRPORTS = TableSpec(
    role="airports",
    attributes=(("icao_code", "S"), ("country_region", "S"), ("iata_code", "S")),
    key=(("icao_code", "HASH"),),
    indexes=(
        IndexSpec(COUNTRY_REGION_INDEX, (("country_region", "HASH"),)),
        IndexSpec(IATA_CODE_INDEX, (("iata_code", "HASH"),)),
    ),
)
OPS = TableSpec(
    role="ops",
    attributes=(("pk", "S"), ("sk", "S")),
    key=(("pk", "HASH"), ("sk", "RANGE")),
    ttl_attribute=TTL_ATTRIBUTE,
)
TABLES = (FLIGHTS, AIRPORTS, OPS)
# Short-lived state of the WebSocket API; no index: the fan-out reads it whole (see
# ``storage.dynamodb.connections``).
CONNECTIONS = TableSpec(
    role="connections",
    attributes=(("connection_id", "S"), ("sk", "S")),
    key=(("connection_id", "HASH"), ("sk", "RANGE")),
    ttl_attribute=TTL_ATTRIBUTE,
)


def create_tables(
    client: DynamoClientProtocol,
    names: DynamoNames,
    *,
    wait: bool = True,
    streams: bool = True,
    timeout_s: float = 120,
) -> list[str]:
    """Create the tables of ``names`` that do not exist, then switch on TTL and
    point-in-time recovery where the spec has them; returns the names created.

    Safe to run again and from several processes at once. With ``wait`` it returns when
    every table and index is ACTIVE (or raises ``StoreUnavailable`` after ``timeout_s``).
    ``streams=False`` leaves the flights stream off: DynamoDB Local keeps every stream
    record in memory and slows down as they pile up (measured: 5,400 states took 14 s to
    store on a fresh engine, 80 s after 45,000 more; 11 to 16 s throughout without streams),
    so a test suite that stores many states wants it off.
    """
    dynamo = Dynamo(client, workers=1)
    created = []
    for spec in TABLES:
        name = getattr(names, spec.role)
        if _status(dynamo, name) is None:
            try:
                dynamo.call(client.create_table, **spec.create_request(name, stream=streams))
                created.append(name)
                log.info("created DynamoDB table %s", name)
            except DynamoUnavailable as exc:
                if exc.code != "ResourceInUseException":  # else created meanwhile elsewhere
                    raise
    if wait:
        deadline = time.monotonic() + timeout_s
        for name in names:
            while _status(dynamo, name) != "ACTIVE":
                if time.monotonic() > deadline:
                    raise StoreUnavailable(f"DynamoDB table {name} not active after {timeout_s}s")
                time.sleep(0.2)
    for spec in TABLES:
        name = getattr(names, spec.role)
        if spec.ttl_attribute:
            _enable_ttl(dynamo, name, spec.ttl_attribute)
        if spec.point_in_time_recovery:
            _enable_pitr(dynamo, name)
    return created


def create_connections_table(
    client: DynamoClientProtocol, name: str, *, timeout_s: float = 120
) -> bool:
    """Create the WebSocket connections table ``name`` if it does not exist, wait until it
    is ACTIVE and switch on its TTL; returns whether it was created here."""
    dynamo = Dynamo(client, workers=1)
    created = False
    if _status(dynamo, name) is None:
        try:
            dynamo.call(client.create_table, **CONNECTIONS.create_request(name))
            created = True
            log.info("created DynamoDB table %s", name)
        except DynamoUnavailable as exc:
            if exc.code != "ResourceInUseException":
                raise
    deadline = time.monotonic() + timeout_s
    while _status(dynamo, name) != "ACTIVE":
        if time.monotonic() > deadline:
            raise StoreUnavailable(f"DynamoDB table {name} not active after {timeout_s}s")
        time.sleep(0.2)
    _enable_ttl(dynamo, name, TTL_ATTRIBUTE)
    return created


def _status(dynamo: Dynamo, name: str) -> str | None:
    """The table's status, ``ACTIVE`` only once its indexes are too; ``None`` if absent."""
    try:
        table = dynamo.call(dynamo.client.describe_table, TableName=name)["Table"]
    except DynamoUnavailable as exc:
        if exc.code == "ResourceNotFoundException":
            return None
        raise
    if any(i.get("IndexStatus") != "ACTIVE" for i in table.get("GlobalSecondaryIndexes", [])):
        return "CREATING"
    return table.get("TableStatus")


def _enable_ttl(dynamo: Dynamo, name: str, attribute: str) -> None:
    described = dynamo.call(dynamo.client.describe_time_to_live, TableName=name)
    if described["TimeToLiveDescription"].get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}:
        return
    dynamo.call(
        dynamo.client.update_time_to_live,
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
    )


def _enable_pitr(dynamo: Dynamo, name: str, *, attempts: int = 10) -> None:
    for attempt in range(attempts):
        try:
            dynamo.call(
                dynamo.client.update_continuous_backups,
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
            return
        except DynamoUnavailable as exc:
            if exc.code == "UnknownOperationException":
                # DynamoDB Local has no backups at all; the real service has them.
                log.info(
                    "point-in-time recovery not supported by this endpoint; skipped for %s", name
                )
                return
            # AWS refuses for a while after a table is created.
            if exc.code != "ContinuousBackupsUnavailableException" or attempt + 1 == attempts:
                raise
        dynamo.backoff.pause(attempt)
