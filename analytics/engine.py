"""The queries of ``analytics/sql`` over a ``flights`` relation, run by DuckDB or by the
relation itself.

The relation is a ``DuckTable`` (states loaded into DuckDB, ``analytics.live.states_table``),
an Arrow table, a pyarrow dataset (Parquet files on disk or in S3, read through
pyarrow's filesystems: DuckDB's own httpfs extension would be downloaded at run time), or a
table that runs the queries itself (``SelfQuerying``: the Athena table of
``analytics.athena``, which the deployed functions query past days on). DuckDB scans Arrow
and Parquet in place, reading only the columns a query names, and pushes the time filters
down to the files' statistics. Nothing here imports pyarrow.

Thread-safe: each query runs on its own cursor of one database (a ``DuckTable``'s own, else
DuckDB's default in-memory connection unless one is given: opening a database costs 10 ms,
a cursor 20 µs), and a relation registered on a cursor is visible to that cursor only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from analytics.queries import Query, load

if TYPE_CHECKING:
    import duckdb

# A ``pyarrow.Table``, a ``pyarrow.dataset.Dataset`` (pyarrow has no type stubs), a
# ``DuckTable`` or a ``SelfQuerying`` table.
Relation = Any


@runtime_checkable
class SelfQuerying(Protocol):
    """A relation that runs the queries itself (a table of a remote engine)."""

    def run_query(self, query: Query, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...


class Engine(Protocol):
    """What runs the queries of ``analytics/sql``: ``FlightsEngine`` (DuckDB, or the relation
    itself) or ``analytics.live_figures.StatesEngine`` (plain Python over live states)."""

    def rows(
        self, name: str, flights: Relation, values: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]: ...


class Processed(Protocol):
    """Where the processed states of past days come from: files DuckDB reads
    (``analytics.files.ProcessedFiles``) or a table that queries itself."""

    def dataset(self, days: Sequence[date]) -> Relation: ...


class QueryFailed(RuntimeError):
    """DuckDB could not run a query (a file it could not read, a bad relation)."""

    def __init__(self, query: str, message: str) -> None:
        super().__init__(f"analytics query {query} failed: {message}")
        self.query = query


class DuckTable:
    """Rows held by DuckDB itself: a table ``flights`` in an in-memory database of its own,
    loaded once from Python lists (no pyarrow: the deployed API ships without it). Queries
    run on cursors of that database. ``columns`` maps each name to its DuckDB type and its
    values, all of one length."""

    def __init__(self, columns: Mapping[str, tuple[str, Sequence[Any]]]) -> None:
        import duckdb

        self.database = duckdb.connect()
        self.num_rows = len(next(iter(columns.values()))[1]) if columns else 0
        select = ", ".join(f"unnest(?::{kind}[]) AS {name}" for name, (kind, _) in columns.items())
        values = [list(v) for _, v in columns.values()]
        self.database.execute(f"CREATE TABLE flights AS SELECT {select}", values)

    def column(self, name: str) -> list[Any]:
        rows = self.database.cursor().execute(f"SELECT {name} FROM flights").fetchall()
        return [row[0] for row in rows]


class FlightsEngine:
    def __init__(self, database: duckdb.DuckDBPyConnection | None = None) -> None:
        self._database = database

    def rows(
        self, name: str, flights: Relation, values: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The rows of query ``name`` over ``flights`` with the parameters ``values``."""
        query = load(name)
        params = query.bind(dict(values))
        if isinstance(flights, SelfQuerying):
            return flights.run_query(query, params)
        import duckdb  # here: importing it takes 0.1 s, which most API requests never need

        held = isinstance(flights, DuckTable)
        database = flights.database if held else self._database or duckdb.default_connection()
        cursor = database.cursor()
        try:
            if not held:
                cursor.register("flights", flights)
            return cursor.execute(query.text, params).fetchall()
        except duckdb.Error as exc:
            raise QueryFailed(name, str(exc)) from exc
        finally:
            cursor.close()
