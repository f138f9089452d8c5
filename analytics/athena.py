"""The queries of ``analytics/sql`` on Athena, over the Glue table of the processed Parquet.

The table (``serverless.yml``: ``FlightsGlueTable``) lies over ``processed/flights/`` with
the columns of ``storage.processed.SCHEMA`` and the partition columns ``year``, ``month``,
``day`` and ``region`` (strings, projected, so no crawler or ``MSCK REPAIR`` is needed). A
query is the file's own text with ``FROM flights`` naming the table, its ``?`` parameters
sent as execution parameters (each a SQL literal), started in the workgroup that holds the
results prefix and the per-query bytes-scanned limit, polled until it ends, and read page
by page. Athena answers every value as text: each column is converted by the type its
result metadata gives, a missing value being ``NULL``.

A query that fails, is cancelled (the scan limit cancels it) or outlives ``timeout_s``
(stopped then) raises ``QueryFailed``; an Athena call that fails raises
``AthenaUnavailable`` (a ``StoreUnavailable``). Thread-safe: the boto3 client is.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from analytics.engine import Processed, QueryFailed
from analytics.files import processed_files
from storage.base import StoreUnavailable

if TYPE_CHECKING:
    from analytics.queries import Query
    from config import Settings

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_-]*$")
_FROM_FLIGHTS = re.compile(r"\bFROM\s+flights\b")
_INTEGERS = frozenset({"tinyint", "smallint", "integer", "int", "bigint"})
_REALS = frozenset({"double", "float", "real", "decimal"})
_DONE = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


class AthenaUnavailable(StoreUnavailable):
    """An Athena call failed (throttled, denied, a workgroup that does not exist)."""


class AthenaClientLike(Protocol):
    """The boto3 Athena client methods used."""

    def start_query_execution(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def get_query_execution(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def stop_query_execution(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def get_paginator(self, operation_name: str) -> Any: ...


def literal(value: Any) -> str:
    """``value`` as an Athena (Trino) SQL literal, for an execution parameter."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no SQL literal for {value!r}")
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"a timestamp needs a time zone: {value!r}")
        return f"TIMESTAMP '{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f} UTC'"
    if isinstance(value, date):
        return f"DATE '{value:%Y-%m-%d}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def _converter(athena_type: str) -> Callable[[str], Any]:
    kind = athena_type.split("(", 1)[0].strip().lower()
    if kind in _INTEGERS:
        return int
    if kind in _REALS:
        return float
    if kind == "boolean":
        return lambda text: text == "true"
    return str


class AthenaTable:
    """The processed states as one Athena table: a relation that runs the queries itself
    (``analytics.engine.FlightsEngine`` hands them over), whatever days a window names
    (the queries select their days by the partition columns)."""

    def __init__(
        self,
        client: Callable[[], AthenaClientLike],
        *,
        workgroup: str,
        database: str,
        table: str = "flights",
        timeout_s: float = 25.0,
        first_poll_s: float = 0.1,
    ) -> None:
        for name in (database, table):
            if not _IDENTIFIER.match(name):
                raise ValueError(f"not a Glue name (lower case, digits, _ and -): {name!r}")
        self._make_client = client
        self._client: AthenaClientLike | None = None
        self._client_lock = threading.Lock()
        self.workgroup = workgroup
        self.database = database
        self.table = table
        self.timeout_s = timeout_s
        self.first_poll_s = first_poll_s

    @property
    def client(self) -> AthenaClientLike:
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def dataset(self, days: Sequence[date]) -> AthenaTable:
        """Itself: the relation of any days (``analytics.engine.Processed``)."""
        return self

    def text(self, query: Query) -> str:
        """The query with ``flights`` naming the table."""
        return _FROM_FLIGHTS.sub(f'FROM "{self.database}"."{self.table}"', query.text, count=1)

    def run_query(self, query: Query, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows of ``query`` with the positional ``params``."""
        execution_id = self._start(query, params)
        self._wait(query, execution_id)
        return self._results(query, execution_id)

    def _start(self, query: Query, params: Sequence[Any]) -> str:
        request: dict[str, Any] = {
            "QueryString": self.text(query),
            "QueryExecutionContext": {"Database": self.database},
            "WorkGroup": self.workgroup,
        }
        if params:
            request["ExecutionParameters"] = [literal(p) for p in params]
        answer = self._call(query, "start", lambda: self.client.start_query_execution(**request))
        return str(answer["QueryExecutionId"])

    def _wait(self, query: Query, execution_id: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        pause = self.first_poll_s
        while True:
            answer = self._call(
                query,
                "poll",
                lambda: self.client.get_query_execution(QueryExecutionId=execution_id),
            )
            status = answer["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return
            if state in _DONE:
                reason = status.get("StateChangeReason", "no reason given")
                raise QueryFailed(query.name, f"Athena query {execution_id} {state}: {reason}")
            if time.monotonic() + pause > deadline:
                self._call(
                    query,
                    "stop",
                    lambda: self.client.stop_query_execution(QueryExecutionId=execution_id),
                )
                raise QueryFailed(
                    query.name, f"Athena query {execution_id} ran over {self.timeout_s:g} s"
                )
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def _results(self, query: Query, execution_id: str) -> list[tuple[Any, ...]]:
        def read() -> list[tuple[Any, ...]]:
            pages = self.client.get_paginator("get_query_results").paginate(
                QueryExecutionId=execution_id, PaginationConfig={"PageSize": 1000}
            )
            rows: list[tuple[Any, ...]] = []
            converters: list[Callable[[str], Any]] = []
            for number, page in enumerate(pages):
                result = page["ResultSet"]
                if number == 0:
                    columns = result["ResultSetMetadata"]["ColumnInfo"]
                    converters = [_converter(c["Type"]) for c in columns]
                # A SELECT's first row holds its column names.
                found = result["Rows"][1:] if number == 0 else result["Rows"]
                rows += [_row(r["Data"], converters) for r in found]
            return rows

        rows: list[tuple[Any, ...]] = self._call(query, "read", read)
        return rows

    def _call(self, query: Query, action: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (BotoCoreError, ClientError) as exc:
            message = f"Athena {action} of {query.name} in workgroup {self.workgroup}: {exc}"
            raise AthenaUnavailable(message) from exc


def _row(
    data: Sequence[Mapping[str, str]], converters: Sequence[Callable[[str], Any]]
) -> tuple[Any, ...]:
    return tuple(
        None if "VarCharValue" not in cell else convert(cell["VarCharValue"])
        for cell, convert in zip(data, converters, strict=True)
    )


def athena_table(settings: Settings) -> AthenaTable:
    """The table the API queries windows on, with the clients of ``storage.aws``."""
    from storage.aws import aws_client

    return AthenaTable(
        lambda: aws_client(settings, "athena"),
        workgroup=settings.athena_workgroup,
        database=settings.glue_database,
    )


def past_days(settings: Settings) -> Processed:
    """Where past days are queried: this table when the settings name a workgroup (the
    deployed API and daily job), else the Parquet, read by DuckDB."""
    if settings.athena_workgroup:
        return athena_table(settings)
    return processed_files(settings)
