"""Dead letters, ingest cycles and route legs in the ops table (layout: ``tables``).

Cycles: one item per report under pk ``CYCLE``, sk ``T(started_at)#cycle_id`` so a query
reads them newest first, and a ``CYCLEID#id`` item pointing at it so that a report put
again under the same id replaces the old one, as SQLite's primary key makes it. The newest
10,000 are kept: every 100th put trims the rest.

Routes: each leg under ``ROUTE#icao24`` with the aircraft's ``CURRENT`` leg beside it (read
by key, 100 aircraft to a call), an open leg also under ``ROUTEOPEN#h`` (with a TTL, for
legs of aircraft never heard of again) and an arrived one under ``ROUTEARR#day``: each a
query for ``in_flight`` and ``completed``. A put reads the legs it replaces, then writes each
leg with its index items in one transaction, so the index never disagrees with the legs.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import orjson

from domain.cycle import CycleReport
from domain.leg import Leg
from storage.dynamodb._client import Backoff, ConditionFailed, Dynamo, DynamoClientProtocol
from storage.dynamodb._dead_letters import DynamoDeadLetterRepository
from storage.dynamodb._states import number_value
from storage.dynamodb.tables import TTL_ATTRIBUTE, DynamoNames

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, TransactWriteItemTypeDef

    from storage.dynamodb._client import Item, Key

__all__ = ["DynamoCycleRepository", "DynamoDeadLetterRepository", "DynamoLegRepository"]

_KEEP = 10_000
_TRIM_EVERY = 100


def sortable(when: datetime) -> str:
    """Epoch seconds as a fixed-width string: string order is time order."""
    return f"{when.timestamp():020.6f}"


class DynamoCycleRepository:
    """``CycleRepository`` on the ops table. Thread-safe."""

    def __init__(
        self, client: DynamoClientProtocol, names: DynamoNames, *, backoff: Backoff | None = None
    ) -> None:
        self._dynamo = Dynamo(client, backoff=backoff, workers=1)
        self._client = client
        self._table = names.ops
        self._puts = itertools.count()

    def close(self) -> None:
        self._dynamo.close()

    def put_cycle(self, report: CycleReport) -> None:
        sk = f"{sortable(report.started_at)}#{report.cycle_id}"
        pointer: Key = {"pk": {"S": f"CYCLEID#{report.cycle_id}"}, "sk": {"S": "-"}}
        held = self._dynamo.call(
            self._client.get_item, TableName=self._table, Key=pointer, ConsistentRead=True
        ).get("Item")
        actions: list[TransactWriteItemTypeDef] = [
            {"Put": {"TableName": self._table, "Item": _cycle_item(sk, report)}},
            {"Put": {"TableName": self._table, "Item": {**pointer, "ref": {"S": sk}}}},
        ]
        if held is not None and held["ref"]["S"] != sk:
            old: Key = {"pk": {"S": "CYCLE"}, "sk": held["ref"]}
            actions.append({"Delete": {"TableName": self._table, "Key": old}})
        self._dynamo.call(self._client.transact_write_items, TransactItems=actions)
        if next(self._puts) % _TRIM_EVERY == 0:
            self._trim()

    def _trim(self) -> None:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "CYCLE"}},
            "ProjectionExpression": "pk, sk, cycle_id",
            "ScanIndexForward": False,
        }
        for item in itertools.islice(self._dynamo.query(request), _KEEP, None):
            self._dynamo.call(
                self._client.delete_item,
                TableName=self._table,
                Key={"pk": item["pk"], "sk": item["sk"]},
            )
            # The pointer, unless the id was put again since.
            with contextlib.suppress(ConditionFailed):
                self._dynamo.call(
                    self._client.delete_item,
                    TableName=self._table,
                    Key={"pk": {"S": f"CYCLEID#{item['cycle_id']['S']}"}, "sk": {"S": "-"}},
                    ConditionExpression="#ref = :sk",
                    ExpressionAttributeNames={"#ref": "ref"},
                    ExpressionAttributeValues={":sk": item["sk"]},
                )

    def recent_cycles(self, last: int) -> list[CycleReport]:
        if last <= 0:
            return []
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "CYCLE"}},
            "ScanIndexForward": False,
            "Limit": last,
            "ConsistentRead": True,
        }
        return [_cycle(i) for i in itertools.islice(self._dynamo.query(request), last)]


def _cycle_item(sk: str, report: CycleReport) -> Item:
    item: Item = {
        "pk": {"S": "CYCLE"},
        "sk": {"S": sk},
        "cycle_id": {"S": report.cycle_id},
        "source": {"S": report.source},
        "started_at": number_value(report.started_at.timestamp()),
        "received": number_value(report.received),
        "stored": number_value(report.stored),
        "rejected": number_value(report.rejected),
        "duplicates": number_value(report.duplicates),
        "reasons": {"S": orjson.dumps(dict(report.reasons)).decode()},
    }
    if report.finished_at is not None:
        item["finished_at"] = number_value(report.finished_at.timestamp())
    if report.error is not None:
        item["error"] = {"S": report.error}
    if report.archive_key is not None:
        item["archive_key"] = {"S": report.archive_key}
    return item


def _cycle(item: Item) -> CycleReport:
    finished = item.get("finished_at")
    return CycleReport(
        cycle_id=item["cycle_id"]["S"],
        source=item["source"]["S"],
        started_at=datetime.fromtimestamp(float(item["started_at"]["N"]), UTC),
        finished_at=None if finished is None else datetime.fromtimestamp(float(finished["N"]), UTC),
        received=int(item["received"]["N"]),
        stored=int(item["stored"]["N"]),
        rejected=int(item["rejected"]["N"]),
        duplicates=int(item["duplicates"]["N"]),
        reasons=Counter(orjson.loads(item["reasons"]["S"])),
        error=item["error"]["S"] if "error" in item else None,
        archive_key=item["archive_key"]["S"] if "archive_key" in item else None,
    )


class DynamoLegRepository:
    """``LegRepository`` on the ops table. Thread-safe; legs of one aircraft should be put
    by one writer at a time (the enrichment step), as a put reads what it replaces."""

    def __init__(
        self,
        client: DynamoClientProtocol,
        names: DynamoNames,
        *,
        open_ttl: timedelta = timedelta(days=7),
        backoff: Backoff | None = None,
        workers: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamo = Dynamo(client, backoff=backoff, workers=workers)
        self._table = names.ops
        self._open_ttl_s = open_ttl.total_seconds()
        self._clock = clock

    def close(self) -> None:
        self._dynamo.close()

    def put_legs(self, routes: Sequence[Leg]) -> None:
        now = self._clock()
        legs = {(r.icao24, sortable(r.departed_at)): r for r in routes}  # the last one wins
        held_legs = self._dynamo.get_many(self._table, [_leg_key(*key) for key in legs])
        held = {(i["pk"]["S"].removeprefix("ROUTE#"), i["sk"]["S"][4:]): i for i in held_legs}
        newest: dict[str, Leg] = {}
        for route in legs.values():
            if route.icao24 not in newest or route.departed_at >= newest[route.icao24].departed_at:
                newest[route.icao24] = route
        current_keys = [_current_key(code) for code in newest]
        current = {
            i["pk"]["S"].removeprefix("ROUTE#"): float(i["departed_at"]["N"])
            for i in self._dynamo.get_many(self._table, current_keys)
        }
        groups: list[list[TransactWriteItemTypeDef]] = [[]]
        for key, route in legs.items():
            actions = self._leg_actions(route, held.get(key), now)
            if newest[route.icao24] is route and route.departed_at.timestamp() >= current.get(
                route.icao24, float("-inf")
            ):
                actions.append({"Put": {"TableName": self._table, "Item": self._current(route)}})
            if len(groups[-1]) + len(actions) > 100:
                groups.append([])
            groups[-1] += actions
        transact = self._dynamo.client.transact_write_items
        self._dynamo.map(lambda g: self._dynamo.call(transact, TransactItems=g), groups)

    def _leg_actions(
        self, route: Leg, held: Item | None, now: float
    ) -> list[TransactWriteItemTypeDef]:
        body = {"S": route.model_dump_json()}
        departed = sortable(route.departed_at)
        leg: Item = {
            **_leg_key(route.icao24, departed),
            "body": body,
            "updated_at": number_value(now),
        }
        actions: list[TransactWriteItemTypeDef] = [{"Put": {"TableName": self._table, "Item": leg}}]
        was = None if held is None else Leg.model_validate_json(held["body"]["S"]).arrived_at
        open_key = _open_key(route.icao24, departed)
        if route.arrived_at is None:
            expires = {"N": str(int(now + self._open_ttl_s))}
            opened: Item = {
                **open_key,
                "body": body,
                "updated_at": number_value(now),
                TTL_ATTRIBUTE: expires,
            }
            actions.append({"Put": {"TableName": self._table, "Item": opened}})
        else:
            arrived: Item = {**_arrived_key(route, route.arrived_at), "body": body}
            actions.append({"Put": {"TableName": self._table, "Item": arrived}})
            if held is not None and was is None:
                actions.append({"Delete": {"TableName": self._table, "Key": open_key}})
        if was is not None and was != route.arrived_at:
            actions.append({"Delete": {"TableName": self._table, "Key": _arrived_key(route, was)}})
        return actions

    def _current(self, route: Leg) -> Item:
        return {
            **_current_key(route.icao24),
            "body": {"S": route.model_dump_json()},
            "departed_at": number_value(route.departed_at.timestamp()),
        }

    def current(self, icao24s: Sequence[str]) -> dict[str, Leg]:
        keys = [_current_key(code) for code in dict.fromkeys(icao24s) if code]
        found = self._dynamo.get_many(self._table, keys)
        return {
            i["pk"]["S"].removeprefix("ROUTE#"): Leg.model_validate_json(i["body"]["S"])
            for i in found
        }

    def in_flight(self, since: datetime) -> list[Leg]:
        requests: list[QueryInputTypeDef] = [
            {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk",
                "FilterExpression": "updated_at >= :since",
                "ExpressionAttributeValues": {
                    ":pk": {"S": f"ROUTEOPEN#{shard}"},
                    ":since": number_value(since.timestamp()),
                },
                "ConsistentRead": True,
            }
            for shard in "0123456789abcdef"
        ]
        items = sorted(
            (i for found in self._dynamo.query_all(requests) for i in found),
            key=lambda i: i["sk"]["S"],
        )
        return [Leg.model_validate_json(i["body"]["S"]) for i in items]

    def completed(self, since: datetime, until: datetime) -> list[Leg]:
        if since > until:
            return []
        first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        bounds = {":lo": {"S": sortable(since)}, ":hi": {"S": sortable(until) + "#~"}}
        requests: list[QueryInputTypeDef] = [
            {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
                "ExpressionAttributeValues": {":pk": {"S": f"ROUTEARR#{day:%Y%m%d}"}, **bounds},
                "ConsistentRead": True,
            }
            for day in days
        ]
        items = [i for found in self._dynamo.query_all(requests) for i in found]
        return [Leg.model_validate_json(i["body"]["S"]) for i in items]


def _leg_key(icao24: str, departed: str) -> Key:
    return {"pk": {"S": f"ROUTE#{icao24}"}, "sk": {"S": f"LEG#{departed}"}}


def _current_key(icao24: str) -> Key:
    return {"pk": {"S": f"ROUTE#{icao24}"}, "sk": {"S": "CURRENT"}}


def _open_key(icao24: str, departed: str) -> Key:
    return {"pk": {"S": f"ROUTEOPEN#{icao24[-1]}"}, "sk": {"S": f"{icao24}#{departed}"}}


def _arrived_key(route: Leg, arrived_at: datetime) -> Key:
    day = arrived_at.astimezone(UTC)
    sk = f"{sortable(arrived_at)}#{route.icao24}#{sortable(route.departed_at)}"
    return {"pk": {"S": f"ROUTEARR#{day:%Y%m%d}"}, "sk": {"S": sk}}
