"""Each aircraft's latest item in the ops table, moved only forward, in batches.

Puts go out as ``TransactWriteItems`` of up to 100 conditional puts, spread over the
worker threads. A conditional write is the only guard against an older state replacing a
newer one when several processors write at once, and ``BatchWriteItem`` takes no
condition; one ``PutItem`` per aircraft costs a round trip and about 1 ms of client CPU
each (measured: 0.97 ms a call against 0.10 ms an item in a transaction of 100), which holds
one process near 1,000 aircraft/s whatever its thread count. The price: a transactional
put is two write units instead of one.

The condition is strict (``attribute_not_exists(sk) OR #ts < :ts``) so that a put that
succeeds proves its state new to the history as well: every writer puts the latest items
before the history items, so a history item at time t implies a latest item at t or later.
A put that fails is handed back with the item held: if that has the same time but other
content (a later last contact for the same position) it is put again with ``#ts <= :ts``,
as SQLite's upsert takes a state of the same time. A failed condition cancels the other
puts of its transaction, which are sent again at once; a conflict or throttling is retried
with backoff.

``LatestItems`` remembers, per aircraft, the time and content of the last item it saw
stored as the latest and in the history (the caller says when, with ``remember``). A state
older than that is not put (it cannot win); the same state again is neither put nor looked
up; a new state of the same time is put without asking. The memory only lets calls be
skipped that would have failed or changed nothing, so it is safe with other writers; a
``prune`` elsewhere is the exception (it may delete what this process remembers), so the
owner forgets on its own ``prune``. Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from storage.dynamodb._client import Dynamo, DynamoUnavailable, TransactionCancelled
from storage.dynamodb._states import state_from_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from storage.dynamodb._client import Item

TRANSACT_MAX = 100  # DynamoDB's limit on actions in one TransactWriteItems
_MEMORY_MAX = 500_000  # aircraft remembered; far more than are ever airborne at once
_RETRIED = frozenset(
    {
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    }
)
_NOT_IN_ITEM = ("pk", "sk", "expires_at")


def fingerprint(item: Item) -> int:
    """The content of a latest item as this process builds it, keys and TTL left out."""
    return hash(
        frozenset(
            (name, *value.items()) for name, value in item.items() if name not in _NOT_IN_ITEM
        )
    )


@dataclass(slots=True)
class LatestPut:
    """One aircraft's latest item and what became of it."""

    icao24: str
    item: Item
    time: Decimal
    content: int
    strict: bool = True
    won: bool = False
    found: bool = False  # the condition failed on this very item, stored already

    def action(self, table: str) -> TransactWriteItemTypeDef:
        op = "<" if self.strict else "<="
        return {
            "Put": {
                "TableName": table,
                "Item": self.item,
                "ConditionExpression": f"attribute_not_exists(sk) OR #ts {op} :ts",
                "ExpressionAttributeNames": {"#ts": "timestamp"},
                "ExpressionAttributeValues": {":ts": self.item["timestamp"]},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }


@dataclass(slots=True)
class Written:
    """The outcome of ``LatestItems.put``, per aircraft: ``in_history`` the time known to be
    in the history already, ``new`` the time proved absent from it, ``current`` the puts
    whose item is now the latest (won, or already stored)."""

    in_history: dict[str, Decimal] = field(default_factory=dict)
    new: dict[str, Decimal] = field(default_factory=dict)
    current: list[LatestPut] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    @property
    def newest_contact(self) -> Decimal | None:
        won = [Decimal(p.item["last_contact"]["N"]) for p in self.current if p.won]
        return max(won, default=None)


class LatestItems:
    """Puts latest items into ``table``; see the module docstring. Thread-safe."""

    def __init__(self, dynamo: Dynamo, table: str) -> None:
        self._dynamo = dynamo
        self._table = table
        self._memory: dict[str, tuple[Decimal, int]] = {}
        self._lock = threading.Lock()

    def put(self, items: Iterable[Item]) -> Written:
        """Put each item (at most one per aircraft) where it moves the latest forward."""
        written = Written()
        due: list[LatestPut] = []
        with self._lock:
            memory = self._memory
            for item in items:
                code, time = item["sk"]["S"], Decimal(item["timestamp"]["N"])
                put = LatestPut(code, item, time, fingerprint(item))
                held = memory.get(code)
                if held is not None and held[0] >= time:
                    written.in_history[code] = held[0]
                    if held[0] > time:
                        continue  # a newer item is stored: this one cannot win
                    if held[1] == put.content:
                        written.current.append(put)  # stored already, as it is
                        continue
                    put.strict = False  # same time, new content: replace it
                due.append(put)
        chunks = [due[i : i + TRANSACT_MAX] for i in range(0, len(due), TRANSACT_MAX)]
        for chunk in self._dynamo.map(self._put_chunk, chunks):
            for put in chunk:
                if put.won and put.strict:
                    written.new[put.icao24] = put.time
                if put.won or put.found:
                    written.current.append(put)
                else:
                    written.lost.append(put.icao24)
        return written

    def remember(self, written: Written) -> None:
        """Record ``written``'s items as stored, once their history items are too."""
        with self._lock:
            if len(self._memory) > _MEMORY_MAX:
                self._memory.clear()
            for code in written.lost:
                self._memory.pop(code, None)
            for put in written.current:
                held = self._memory.get(put.icao24)
                if held is None or held[0] <= put.time:
                    self._memory[put.icao24] = (put.time, put.content)

    def forget(self) -> None:
        with self._lock:
            self._memory.clear()

    def _put_chunk(self, chunk: Sequence[LatestPut]) -> Sequence[LatestPut]:
        pending = list(chunk)
        retries = 0
        while pending:
            try:
                self._dynamo.call(
                    self._dynamo.client.transact_write_items,
                    TransactItems=[put.action(self._table) for put in pending],
                )
            except TransactionCancelled as exc:
                pending, transient = self._after_cancel(pending, exc)
                if transient:
                    if retries + 1 >= self._dynamo.backoff.attempts:
                        raise DynamoUnavailable(
                            f"DynamoDB transaction on {self._table} still cancelled after "
                            f"{retries + 1} attempts: {exc.reasons}",
                            code="TransactionCanceledException",
                            operation="transact_write_items",
                        ) from exc
                    self._dynamo.backoff.pause(retries)
                    retries += 1
            else:
                for put in pending:
                    put.won = True
                return chunk
        return chunk

    def _after_cancel(
        self, pending: list[LatestPut], exc: TransactionCancelled
    ) -> tuple[list[LatestPut], bool]:
        """The puts to send again, and whether a transient error was among the reasons."""
        if len(exc.reasons) != len(pending):
            raise DynamoUnavailable(
                f"DynamoDB transaction on {self._table} cancelled without a reason per put",
                code="TransactionCanceledException",
                operation="transact_write_items",
            ) from exc
        again: list[LatestPut] = []
        transient = False
        for put, code, held in zip(pending, exc.reasons, exc.items, strict=True):
            if code == "ConditionalCheckFailed":
                if held is None or Decimal(held["timestamp"]["N"]) != put.time:
                    continue  # a newer state is stored (or, unknown, taken to be)
                if state_from_item(held) == state_from_item(put.item):
                    put.found = True
                elif put.strict:
                    put.strict = False  # same time, other content: replace it
                    again.append(put)
            elif code in (None, "None"):
                again.append(put)  # cancelled for another put's sake
            elif code in _RETRIED:
                again.append(put)
                transient = True
            else:
                raise DynamoUnavailable(
                    f"DynamoDB transaction on {self._table} cancelled: {code}",
                    code=str(code),
                    operation="transact_write_items",
                ) from exc
        return again, transient
