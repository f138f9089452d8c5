"""Rejected records in the ops table, with their reason and raw value.

| item             | pk         | sk        | attributes                                      |
|------------------|------------|-----------|-------------------------------------------------|
| letter           | DL         | id        | reason, detail, source, raw (zlib JSON B),      |
|                  |            |           | received_at, attempts, cycle_id?, observed_at?, |
|                  |            |           | fp (B)                                          |
| letter by reason | DLR#reason | id        | (key only)                                      |
| guard            | DLFP#fp    | -         | id: makes ``add`` idempotent by fingerprint     |
| count            | DLCOUNT    | R#reason  | n: letters with that reason                     |

An id is 24 digits, nanoseconds since the epoch then a per-process suffix, so ids sort in
the order letters were added, as SQLite's rowids do. Every change to a letter is one
transaction over its items and the counts, so ``count`` and ``reasons`` read a handful of
items rather than every letter. Cursors hold the key of the last letter of a page (the
``ExclusiveStartKey`` of the next), checked against the partition the query reads.
"""

from __future__ import annotations

import builtins
import random
import re
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from storage import cursor
from storage.base import DeadLetter, Page
from storage.dynamodb._client import Backoff, Dynamo, DynamoClientProtocol, TransactionCancelled
from storage.dynamodb._states import number
from storage.dynamodb.tables import DynamoNames

# The same identity (and raw encoding) as the embedded store's, so both keep the same letters.
from storage.sqlite.dead_letters import _dump, fingerprint

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, TransactWriteItemTypeDef

    from storage.dynamodb._client import Item, Key

_ID = re.compile(r"\d{24}")
_MAX_ACTIONS = 100  # DynamoDB's limit per transaction
_MAX_BYTES = 2_000_000  # well under its 4 MB per transaction
_COUNTS: Key = {"pk": {"S": "DLCOUNT"}}


def _letter_key(letter_id: str) -> Key:
    return {"pk": {"S": "DL"}, "sk": {"S": letter_id}}


def _count_key(reason: str) -> Key:
    return {"pk": {"S": "DLCOUNT"}, "sk": {"S": f"R#{reason}"}}


def _when(value: Any) -> datetime:
    return datetime.fromtimestamp(float(value["N"]), UTC)


def _letter(item: Item) -> DeadLetter:
    observed = item.get("observed_at")
    cycle = item.get("cycle_id")
    return DeadLetter(
        id=item["sk"]["S"],
        reason=item["reason"]["S"],
        detail=item["detail"]["S"],
        source=item["source"]["S"],
        raw=orjson.loads(zlib.decompress(item["raw"]["B"])),
        received_at=_when(item["received_at"]),
        attempts=int(item["attempts"]["N"]),
        cycle_id=None if cycle is None else cycle["S"],
        observed_at=None if observed is None else _when(observed),
    )


class _Ids:
    """Time-ordered ids, strictly increasing within a process. Thread-safe."""

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self._clock = clock
        self._last = 0
        self._suffix = f"{random.randrange(100_000):05d}"
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._last = max(self._clock(), self._last + 1)
            return f"{self._last:019d}{self._suffix}"


class DynamoDeadLetterRepository:
    """``DeadLetterRepository`` on the ops table. Thread-safe."""

    def __init__(
        self,
        client: DynamoClientProtocol,
        names: DynamoNames,
        *,
        backoff: Backoff | None = None,
        workers: int = 8,
    ) -> None:
        self._dynamo = Dynamo(client, backoff=backoff, workers=workers)
        self._client = client
        self._table = names.ops
        self._ids = _Ids()

    def close(self) -> None:
        self._dynamo.close()

    # --- writes ----------------------------------------------------------------------------

    def add(self, letters: Sequence[DeadLetter]) -> None:
        fresh: dict[bytes, tuple[DeadLetter, bytes]] = {}
        for letter in letters:
            raw = _dump(letter.raw)
            fresh.setdefault(fingerprint(letter, raw), (letter, raw))
        guards: list[Key] = [{"pk": {"S": f"DLFP#{fp.hex()}"}, "sk": {"S": "-"}} for fp in fresh]
        for held in self._dynamo.get_many(self._table, guards, projection="pk"):
            del fresh[bytes.fromhex(held["pk"]["S"].removeprefix("DLFP#"))]
        items = [self._new_item(letter, raw, fp) for fp, (letter, raw) in fresh.items()]
        group: list[Item] = []
        size = 0
        for item in items:
            if (
                len({*(i["reason"]["S"] for i in group), item["reason"]["S"]})
                + 3 * (len(group) + 1)
                > _MAX_ACTIONS
                or size + len(item["raw"]["B"]) > _MAX_BYTES
            ):
                self._insert(group)
                group, size = [], 0
            group.append(item)
            size += len(item["raw"]["B"])
        if group:
            self._insert(group)

    def _new_item(self, letter: DeadLetter, raw: bytes, fp: bytes) -> Item:
        item: Item = {
            **_letter_key(self._ids.next()),
            "reason": {"S": letter.reason},
            "detail": {"S": letter.detail},
            "source": {"S": letter.source},
            "raw": {"B": zlib.compress(raw)},
            "received_at": {"N": number(letter.received_at.timestamp())},
            "attempts": {"N": str(letter.attempts)},
            "fp": {"B": fp},
        }
        if letter.cycle_id is not None:
            item["cycle_id"] = {"S": letter.cycle_id}
        if letter.observed_at is not None:
            item["observed_at"] = {"N": number(letter.observed_at.timestamp())}
        return item

    def _insert(self, items: list[Item]) -> None:
        """Store letters with their guards and counts; a letter whose guard another writer
        stored meanwhile is dropped, as SQLite's INSERT OR IGNORE drops it."""
        for attempt in range(self._dynamo.backoff.attempts):
            if not items:
                return
            actions: list[TransactWriteItemTypeDef] = []
            for item in items:
                letter_id, reason = item["sk"]["S"], item["reason"]["S"]
                guard: Item = {
                    "pk": {"S": f"DLFP#{item['fp']['B'].hex()}"},
                    "sk": {"S": "-"},
                    "id": {"S": letter_id},
                }
                actions += [
                    {"Put": self._new(guard)},
                    {"Put": self._new(item)},
                    {"Put": {"TableName": self._table, "Item": _by_reason(reason, letter_id)}},
                ]
            actions += self._count_updates(Counter(i["reason"]["S"] for i in items))
            try:
                self._dynamo.call(self._client.transact_write_items, TransactItems=actions)
                return
            except TransactionCancelled as exc:
                failed = {
                    n // 3 for n, code in enumerate(exc.reasons) if code == "ConditionalCheckFailed"
                }
                if not failed and "TransactionConflict" not in exc.reasons:
                    raise _unavailable(exc) from exc
                items = [i for n, i in enumerate(items) if n not in failed]
            self._dynamo.backoff.pause(attempt)
        raise _unavailable(None)

    def _new(self, item: Item) -> Any:
        return {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(pk)",
        }

    def _count_updates(self, deltas: Counter[str]) -> list[TransactWriteItemTypeDef]:
        return [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _count_key(reason),
                    "UpdateExpression": "ADD n :d",
                    "ExpressionAttributeValues": {":d": {"N": str(delta)}},
                }
            }
            for reason, delta in deltas.items()
            if delta
        ]

    def get(self, ids: Sequence[str]) -> list[DeadLetter]:
        return [_letter(i) for i in self._items(ids)]

    def _items(self, ids: Sequence[str]) -> list[Item]:
        keys = [_letter_key(i) for i in dict.fromkeys(ids) if _ID.fullmatch(str(i))]
        return sorted(self._dynamo.get_many(self._table, keys), key=lambda i: i["sk"]["S"])

    def remove(self, ids: Sequence[str]) -> int:
        return self._delete(self._items(ids))

    def prune(self, before: datetime) -> int:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "FilterExpression": "received_at < :before",
            "ProjectionExpression": "pk, sk, reason, fp",
            "ExpressionAttributeValues": {
                ":pk": {"S": "DL"},
                ":before": {"N": number(before.timestamp())},
            },
            "ConsistentRead": True,
        }
        return self._delete(list(self._dynamo.query(request)))

    def _delete(self, items: list[Item]) -> int:
        """Delete letters (items holding at least key, reason and fp) with their guards and
        counts, 30 to a transaction; those changed meanwhile are read again first."""
        removed = 0
        for start in range(0, len(items), 30):
            group = items[start : start + 30]
            for attempt in range(self._dynamo.backoff.attempts):
                if not group:
                    break
                try:
                    self._dynamo.call(
                        self._client.transact_write_items, TransactItems=self._deletes(group)
                    )
                    removed += len(group)
                    break
                except TransactionCancelled as exc:
                    if not {"ConditionalCheckFailed", "TransactionConflict"} & set(exc.reasons):
                        raise _unavailable(exc) from exc
                    group = self._items([i["sk"]["S"] for i in group])  # gone, or a new reason
                self._dynamo.backoff.pause(attempt)
            else:
                raise _unavailable(None)
        return removed

    def _deletes(self, group: list[Item]) -> list[TransactWriteItemTypeDef]:
        actions: list[TransactWriteItemTypeDef] = []
        for item in group:
            letter_id, reason = item["sk"]["S"], item["reason"]["S"]
            actions += [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _letter_key(letter_id),
                        "ConditionExpression": "reason = :r",
                        "ExpressionAttributeValues": {":r": {"S": reason}},
                    }
                },
                {"Delete": {"TableName": self._table, "Key": _reason_key(reason, letter_id)}},
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": f"DLFP#{item['fp']['B'].hex()}"}, "sk": {"S": "-"}},
                    }
                },
            ]
        return actions + self._count_updates(
            Counter({r: -n for r, n in Counter(i["reason"]["S"] for i in group).items()})
        )

    def retried(self, ids: Sequence[str], reason: str, detail: str) -> None:
        for item in self._items(ids):
            self._retry_one(item, reason, detail)

    def _retry_one(self, item: Item, reason: str, detail: str) -> None:
        for attempt in range(self._dynamo.backoff.attempts):
            letter_id, old = item["sk"]["S"], item["reason"]["S"]
            actions: list[TransactWriteItemTypeDef] = [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": _letter_key(letter_id),
                        "UpdateExpression": (
                            "SET attempts = attempts + :one, reason = :r, detail = :d"
                        ),
                        "ConditionExpression": "reason = :old",
                        "ExpressionAttributeValues": {
                            ":one": {"N": "1"},
                            ":r": {"S": reason},
                            ":d": {"S": detail},
                            ":old": {"S": old},
                        },
                    }
                }
            ]
            if old != reason:
                actions += [
                    {"Delete": {"TableName": self._table, "Key": _reason_key(old, letter_id)}},
                    {"Put": {"TableName": self._table, "Item": _by_reason(reason, letter_id)}},
                    *self._count_updates(Counter({old: -1, reason: 1})),
                ]
            try:
                self._dynamo.call(self._client.transact_write_items, TransactItems=actions)
                return
            except TransactionCancelled as exc:
                if not {"ConditionalCheckFailed", "TransactionConflict"} & set(exc.reasons):
                    raise _unavailable(exc) from exc
                again = self._items([letter_id])
                if not again:
                    return  # removed meanwhile
                item = again[0]
            self._dynamo.backoff.pause(attempt)
        raise _unavailable(None)

    # --- reads -----------------------------------------------------------------------------

    def count(self, reason: str | None = None) -> int:
        if reason is None:
            return sum(self.reasons().values())
        out = self._dynamo.call(
            self._client.get_item,
            TableName=self._table,
            Key=_count_key(reason),
            ConsistentRead=True,
        )
        item = out.get("Item")
        return 0 if item is None else int(item["n"]["N"])

    def reasons(self) -> dict[str, int]:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _COUNTS["pk"]},
            "ConsistentRead": True,
        }
        counts = {
            i["sk"]["S"].removeprefix("R#"): int(i["n"]["N"]) for i in self._dynamo.query(request)
        }
        return {reason: n for reason, n in counts.items() if n > 0}

    def list(
        self, *, first: int, after: str | None = None, reason: str | None = None
    ) -> Page[DeadLetter]:
        partition = "DL" if reason is None else f"DLR#{reason}"
        start: Key | None = None
        if after is not None:
            key = cursor.decode("dead-letters", after)
            if not (
                isinstance(key, dict)
                and key.keys() == {"pk", "sk"}
                and key["pk"] == partition
                and isinstance(key["sk"], str)
                and _ID.fullmatch(key["sk"])
            ):
                raise cursor.invalid(after)
            start = {"pk": {"S": partition}, "sk": {"S": key["sk"]}}
        found = self._page(partition, first + 1, start)
        page = found[:first]
        letters = page if reason is None else self._items([i["sk"]["S"] for i in page])
        return Page(
            items=[_letter(i) for i in letters],
            cursors=[
                cursor.encode("dead-letters", {"pk": partition, "sk": i["sk"]["S"]}) for i in page
            ],
            total_count=self.count(reason),
            has_next_page=len(found) > first,
        )

    def _page(self, partition: str, limit: int, start: Key | None) -> builtins.list[Item]:
        found: builtins.list[Item] = []
        while len(found) < limit:
            request: QueryInputTypeDef = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": partition}},
                "Limit": limit - len(found),
                "ConsistentRead": True,
            }
            if start is not None:
                request["ExclusiveStartKey"] = start
            out = self._dynamo.call(self._client.query, **request)
            found += out.get("Items", [])
            start = out.get("LastEvaluatedKey")
            if start is None:
                break
        return found


def _reason_key(reason: str, letter_id: str) -> Key:
    return {"pk": {"S": f"DLR#{reason}"}, "sk": {"S": letter_id}}


def _by_reason(reason: str, letter_id: str) -> Item:
    return {"pk": {"S": f"DLR#{reason}"}, "sk": {"S": letter_id}}


def _unavailable(exc: TransactionCancelled | None) -> Exception:
    from storage.dynamodb._client import DynamoUnavailable

    why = "kept conflicting" if exc is None else str(exc)
    return DynamoUnavailable(
        f"DynamoDB dead-letter transaction failed: {why}", operation="transact_write_items"
    )
