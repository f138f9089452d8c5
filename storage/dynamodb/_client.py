"""The DynamoDB client as the stores see it: the narrow protocol of the calls they make,
vendor errors translated once, and the retried batch, paged and parallel calls that every
repository shares.

Retries: this is the one retry layer of every DynamoDB call (the boto3 client is made with
botocore's own retries off, ``storage.aws.aws_client``, and callers do not retry a
``DynamoUnavailable``). A throttled request (``ProvisionedThroughputExceededException``,
``ThrottlingException``, ``RequestLimitExceeded``), a transient one (HTTP 5xx,
``InternalServerError``, a dropped or timed-out connection) and the ``UnprocessedItems`` /
``UnprocessedKeys`` a batch call hands back are retried with exponential backoff and full
jitter, out of one budget of ``Backoff.attempts`` requests per call (per batch of 25 writes
or 100 reads): at most 8 requests and 5.15 s of waiting between them by default
(``docs/deployment.md``). When the budget runs out, or on any other error, the call raises
``DynamoUnavailable`` (a ``StoreUnavailable`` that keeps the service's error code) from the
botocore error. A failed condition and a cancelled transaction are outcomes the caller
decides on: they become ``ConditionFailed`` and ``TransactionCancelled``.

Thread-safety: botocore clients are thread-safe and ``Dynamo`` holds nothing else but its
executor, so one instance serves every thread.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeAlias, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from storage.base import StoreUnavailable

if TYPE_CHECKING:
    from typing import Unpack

    from mypy_boto3_dynamodb.type_defs import (
        BatchGetItemInputTypeDef,
        BatchGetItemOutputTypeDef,
        BatchWriteItemInputTypeDef,
        BatchWriteItemOutputTypeDef,
        CreateTableInputTypeDef,
        CreateTableOutputTypeDef,
        DeleteItemInputTypeDef,
        DeleteItemOutputTypeDef,
        DescribeTableInputTypeDef,
        DescribeTableOutputTypeDef,
        DescribeTimeToLiveInputTypeDef,
        DescribeTimeToLiveOutputTypeDef,
        GetItemInputTypeDef,
        GetItemOutputTypeDef,
        PutItemInputTypeDef,
        PutItemOutputTypeDef,
        QueryInputTypeDef,
        QueryOutputTypeDef,
        ScanInputTypeDef,
        ScanOutputTypeDef,
        TransactWriteItemsInputTypeDef,
        TransactWriteItemsOutputTypeDef,
        UpdateContinuousBackupsInputTypeDef,
        UpdateContinuousBackupsOutputTypeDef,
        UpdateItemInputTypeDef,
        UpdateItemOutputTypeDef,
        UpdateTimeToLiveInputTypeDef,
        UpdateTimeToLiveOutputTypeDef,
        WriteRequestTypeDef,
    )

    # Attribute values are built as plain dicts ({"S": ...}); the stubs' TypedDict for
    # them rejects those, so items are typed loosely and checked by the tests instead.
    Item: TypeAlias = dict[str, Any]
    Key: TypeAlias = Mapping[str, Any]

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A")

BATCH_WRITE_MAX = 25  # DynamoDB's limit on requests in one BatchWriteItem
BATCH_GET_MAX = 100  # and on keys in one BatchGetItem
_worker = threading.local()
_THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# Server-side failures worth another request, as botocore's standard retry mode has them.
_TRANSIENT = frozenset(
    {"InternalServerError", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException"}
)
_TRANSIENT_CONNECTION = (ConnectionClosedError, EndpointConnectionError, ReadTimeoutError)


class DynamoClientProtocol(Protocol):
    """The calls the DynamoDB stores make: a boto3 ``dynamodb`` client satisfies it."""

    def batch_get_item(
        self, **kwargs: Unpack[BatchGetItemInputTypeDef]
    ) -> BatchGetItemOutputTypeDef: ...

    def batch_write_item(
        self, **kwargs: Unpack[BatchWriteItemInputTypeDef]
    ) -> BatchWriteItemOutputTypeDef: ...

    def get_item(self, **kwargs: Unpack[GetItemInputTypeDef]) -> GetItemOutputTypeDef: ...

    def put_item(self, **kwargs: Unpack[PutItemInputTypeDef]) -> PutItemOutputTypeDef: ...

    def update_item(self, **kwargs: Unpack[UpdateItemInputTypeDef]) -> UpdateItemOutputTypeDef: ...

    def delete_item(self, **kwargs: Unpack[DeleteItemInputTypeDef]) -> DeleteItemOutputTypeDef: ...

    def query(self, **kwargs: Unpack[QueryInputTypeDef]) -> QueryOutputTypeDef: ...

    def scan(self, **kwargs: Unpack[ScanInputTypeDef]) -> ScanOutputTypeDef: ...

    def transact_write_items(
        self, **kwargs: Unpack[TransactWriteItemsInputTypeDef]
    ) -> TransactWriteItemsOutputTypeDef: ...

    def create_table(
        self, **kwargs: Unpack[CreateTableInputTypeDef]
    ) -> CreateTableOutputTypeDef: ...

    def describe_table(
        self, **kwargs: Unpack[DescribeTableInputTypeDef]
    ) -> DescribeTableOutputTypeDef: ...

    def describe_time_to_live(
        self, **kwargs: Unpack[DescribeTimeToLiveInputTypeDef]
    ) -> DescribeTimeToLiveOutputTypeDef: ...

    def update_time_to_live(
        self, **kwargs: Unpack[UpdateTimeToLiveInputTypeDef]
    ) -> UpdateTimeToLiveOutputTypeDef: ...

    def update_continuous_backups(
        self, **kwargs: Unpack[UpdateContinuousBackupsInputTypeDef]
    ) -> UpdateContinuousBackupsOutputTypeDef: ...


class DynamoUnavailable(StoreUnavailable):
    """A DynamoDB call failed; ``code`` is the service's error code (empty for a connection
    or client-side error) and ``operation`` the call. Not ``retryable``: ``Dynamo`` retried
    whatever could be."""

    retryable = False

    def __init__(self, message: str, *, code: str = "", operation: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation


class ConditionFailed(Exception):
    """A write's ``ConditionExpression`` did not hold."""


class TransactionCancelled(Exception):
    """A transaction was cancelled; ``reasons`` has one code (or ``None``) per action and
    ``items`` the item held, where an action asked for it on a failed condition."""

    def __init__(self, reasons: list[str | None], items: list[Item | None] | None = None) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons
        self.items = items if items is not None else [None] * len(reasons)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True, slots=True)
class Backoff:
    """Bounded exponential backoff with full jitter: attempt ``i`` waits up to
    ``min(cap_s, base_s * 2**i)``. ``sleep`` is injectable so tests need not wait."""

    attempts: int = 8
    base_s: float = 0.05
    cap_s: float = 2.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def pause(self, attempt: int) -> None:
        self.sleep(random.uniform(0.0, min(self.cap_s, self.base_s * 2**attempt)))


_AGAIN = object()  # a request that failed and may be made again


def _mark_worker() -> None:
    _worker.busy = True


class Dynamo:
    """One client's calls with errors translated, throttling and unprocessed work retried,
    and independent calls spread over ``workers`` threads (1: all on the caller's)."""

    def __init__(
        self, client: DynamoClientProtocol, *, backoff: Backoff | None = None, workers: int = 8
    ) -> None:
        self.client = client
        self.backoff = backoff or Backoff()
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """One request, repeated while it is throttled or fails transiently, within the
        budget of ``backoff.attempts`` requests."""
        name = getattr(fn, "__name__", "call")
        for attempt in range(self.backoff.attempts):
            result = self._request(name, attempt, fn, *args, **kwargs)
            if result is not _AGAIN:
                return result  # type: ignore[return-value]
            self.backoff.pause(attempt)
        raise AssertionError("unreachable: Backoff.attempts must be at least 1")

    def _request(
        self, name: str, attempt: int, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T | object:
        """``fn``'s answer, or ``_AGAIN`` when it may be retried and the budget allows;
        every other failure raised as this module's errors."""
        last = attempt + 1 == self.backoff.attempts
        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ConditionalCheckFailedException":
                raise ConditionFailed(name) from exc
            if code == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons", [])
                held: list[Item | None] = [r.get("Item") for r in reasons]  # type: ignore[misc]
                raise TransactionCancelled([r.get("Code") for r in reasons], held) from exc
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            retryable = code in _THROTTLED or code in _TRANSIENT or status >= 500
            if not retryable:
                raise DynamoUnavailable(
                    f"DynamoDB {name} failed: {exc}", code=code, operation=name
                ) from exc
            if last:
                raise DynamoUnavailable(
                    f"DynamoDB {name} still {'throttled' if code in _THROTTLED else 'failing'} "
                    f"after {attempt + 1} attempts",
                    code=code,
                    operation=name,
                ) from exc
        except _TRANSIENT_CONNECTION as exc:
            if last:
                raise DynamoUnavailable(
                    f"DynamoDB {name} failed after {attempt + 1} attempts: {exc}", operation=name
                ) from exc
        except BotoCoreError as exc:
            raise DynamoUnavailable(f"DynamoDB {name} failed: {exc}", operation=name) from exc
        return _AGAIN

    def map(self, fn: Callable[[A], T], args: Iterable[A]) -> list[T]:
        """``fn`` over ``args`` on the worker threads, results in order; the first error
        raised is re-raised here."""
        work = list(args)
        # A worker that waited on the pool it runs in could wait for ever: run inline.
        if self._workers <= 1 or len(work) <= 1 or getattr(_worker, "busy", False):
            return [fn(a) for a in work]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self._workers, thread_name_prefix="dynamo", initializer=_mark_worker
            )
        return list(self._pool.map(fn, work))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # --- batches ---------------------------------------------------------------------------

    def write(self, table: str, requests: Sequence[WriteRequestTypeDef]) -> None:
        """Every request, 25 to a ``BatchWriteItem``; no two may have the same key."""
        chunks = [
            requests[i : i + BATCH_WRITE_MAX] for i in range(0, len(requests), BATCH_WRITE_MAX)
        ]
        self.map(lambda chunk: self._write_chunk(table, chunk), chunks)

    def _write_chunk(self, table: str, chunk: Sequence[WriteRequestTypeDef]) -> None:
        """One ``BatchWriteItem`` and its retries (throttled, transient, unprocessed items)
        out of one budget of ``backoff.attempts`` requests."""
        pending = list(chunk)
        for attempt in range(self.backoff.attempts):
            out = self._request(
                "batch_write_item",
                attempt,
                self.client.batch_write_item,
                RequestItems={table: pending},
            )
            if out is not _AGAIN:
                answer: BatchWriteItemOutputTypeDef = out  # type: ignore[assignment]
                pending = list(answer.get("UnprocessedItems", {}).get(table, []))  # type: ignore[arg-type]
                if not pending:
                    return
            if attempt + 1 < self.backoff.attempts:
                self.backoff.pause(attempt)
        raise DynamoUnavailable(
            f"DynamoDB left {len(pending)} writes to {table} unprocessed after "
            f"{self.backoff.attempts} attempts"
        )

    def get_many(
        self,
        table: str,
        keys: Sequence[Key],
        *,
        projection: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> list[Item]:
        """The items of ``keys`` that exist (strongly consistent), 100 keys to a call."""
        chunks = [keys[i : i + BATCH_GET_MAX] for i in range(0, len(keys), BATCH_GET_MAX)]
        found = self.map(lambda c: self._get_chunk(table, c, projection, names), chunks)
        return [item for items in found for item in items]

    def _get_chunk(
        self,
        table: str,
        keys: Sequence[Key],
        projection: str | None,
        names: Mapping[str, str] | None,
    ) -> list[Item]:
        request: dict[str, Any] = {"Keys": list(keys), "ConsistentRead": True}
        if projection:
            request["ProjectionExpression"] = projection
        if names:
            request["ExpressionAttributeNames"] = dict(names)
        found: list[Item] = []
        for attempt in range(self.backoff.attempts):
            out = self._request(
                "batch_get_item",
                attempt,
                self.client.batch_get_item,
                RequestItems={table: request},  # type: ignore[dict-item]
            )
            if out is not _AGAIN:
                answer: BatchGetItemOutputTypeDef = out  # type: ignore[assignment]
                found += answer.get("Responses", {}).get(table, [])
                left = answer.get("UnprocessedKeys", {}).get(table)
                if not left or not left.get("Keys"):
                    return found
                request["Keys"] = left["Keys"]
            if attempt + 1 < self.backoff.attempts:
                self.backoff.pause(attempt)
        raise DynamoUnavailable(
            f"DynamoDB left {len(request['Keys'])} reads of {table} unprocessed after "
            f"{self.backoff.attempts} attempts"
        )

    # --- pages -----------------------------------------------------------------------------

    def query(self, request: QueryInputTypeDef) -> Iterator[Item]:
        """Every item the query matches, page after page."""
        page: QueryInputTypeDef = {**request}
        while True:
            out = self.call(self.client.query, **page)
            yield from out.get("Items", [])
            start = out.get("LastEvaluatedKey")
            if not start:
                return
            page["ExclusiveStartKey"] = start

    def query_all(self, requests: Sequence[QueryInputTypeDef]) -> list[list[Item]]:
        """Several queries at once, each read to its end."""
        return self.map(lambda r: list(self.query(r)), requests)

    def scan(self, request: ScanInputTypeDef, *, segments: int = 1) -> list[Item]:
        """Every item of a table, read in ``segments`` parallel segments."""

        def segment(n: int) -> list[Item]:
            page: ScanInputTypeDef = {**request}
            if segments > 1:
                page["Segment"] = n
                page["TotalSegments"] = segments
            items: list[Item] = []
            while True:
                out = self.call(self.client.scan, **page)
                items += out.get("Items", [])
                start = out.get("LastEvaluatedKey")
                if not start:
                    return items
                page["ExclusiveStartKey"] = start

        return [item for part in self.map(segment, range(segments)) for item in part]
