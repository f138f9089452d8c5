"""Windowed analytics on Athena: the SQL of ``analytics/sql`` with the table's name, its
parameters as literals, and the call sequence (start in the workgroup, poll, read the pages)
against the moto server, whose Athena answers the results a test queues."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from analytics import flights
from analytics.athena import AthenaTable, AthenaUnavailable, literal
from analytics.engine import FlightsEngine, QueryFailed
from analytics.params import Window
from analytics.queries import load
from analytics.results import Basis
from analytics.service import AnalyticsService, build_service
from config import Settings
from domain.geo import REGIONS

if TYPE_CHECKING:
    from moto_server import MotoServer

pytest_plugins = ["moto_server"]

ATHENA_SERVER = Path(__file__).with_name("athena_server.py")
QUERIES = ("altitude_histogram", "country_counts", "day_totals", "region_counts", "traffic_density")
START = datetime(2026, 11, 20, 10, tzinfo=UTC)
END = START + timedelta(hours=2)
SCOPE = flights.Scope(None, START, END, Basis.PARQUET)


class Recording:
    """A boto3 Athena client that keeps the names of the calls made through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.client, name)


@pytest.fixture(scope="module")
def athena_server(moto_server: MotoServer) -> Iterator[MotoServer]:
    """A moto server of the module's own whose Athena answers botocore's REST paths."""
    command = [sys.executable, str(ATHENA_SERVER), "-H", "127.0.0.1"]
    with type(moto_server)(command=command) as server:
        yield server


@pytest.fixture
def athena(athena_server: MotoServer) -> Iterator[Recording]:
    athena_server.reset()
    client = boto3.client("athena", endpoint_url=athena_server.endpoint_url)
    client.create_work_group(
        Name="analytics",
        Configuration={
            "ResultConfiguration": {"OutputLocation": "s3://results/athena/"},
            "EnforceWorkGroupConfiguration": True,
            "BytesScannedCutoffPerQuery": 1_000_000_000,
        },
    )
    yield Recording(client)
    unset = {"model_name": "athena::execution"}
    _moto_api(athena_server, "state-manager/unset-transition", unset)


def _moto_api(aws: MotoServer, path: str, body: Mapping[str, Any]) -> None:
    request = urllib.request.Request(
        f"{aws.endpoint_url}/moto-api/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def _queue(aws: MotoServer, columns: list[tuple[str, str]], rows: list[list[str | None]]) -> None:
    """The next query's results as Athena gives them: the column names first, every value
    as text, NULL as a cell without a value."""
    cells = [[{"VarCharValue": name} for name, _ in columns]]
    cells += [[{} if v is None else {"VarCharValue": v} for v in row] for row in rows]
    result = {
        "rows": [{"Data": row} for row in cells],
        "column_info": [{"Name": n, "Label": n, "Type": t} for n, t in columns],
    }
    _moto_api(aws, "static/athena/query-results", {"region": "eu-west-1", "results": [result]})


def _polls_before_done(aws: MotoServer, times: int) -> None:
    transition = {"progression": "manual", "times": times}
    body = {"model_name": "athena::execution", "transition": transition}
    _moto_api(aws, "state-manager/set-transition", body)


def _table(client: Recording, **options: Any) -> AthenaTable:
    return AthenaTable(
        lambda: client,  # type: ignore[arg-type,return-value]
        workgroup="analytics",
        database="flightdata_ci",
        first_poll_s=0.01,
        **options,
    )


REGION_COLUMNS = [("is_total", "integer"), ("region", "varchar"), ("aircraft", "bigint")]


@pytest.mark.parametrize("name", QUERIES)
def test_each_query_names_the_table_once(name: str) -> None:
    table = AthenaTable(lambda: None, workgroup="wg", database="flightdata_ci")  # type: ignore[arg-type,return-value]
    text = table.text(load(name))
    assert text.count('FROM "flightdata_ci"."flights" AS f') == 1
    assert "FROM flights" not in text
    assert text.replace('"flightdata_ci"."flights"', "flights") == load(name).text


def test_a_name_that_is_not_a_glue_name_is_refused() -> None:
    with pytest.raises(ValueError, match="Glue name"):
        AthenaTable(lambda: None, workgroup="wg", database='x"; DROP')  # type: ignore[arg-type,return-value]


def test_parameters_become_sql_literals() -> None:
    assert literal("it's") == "'it''s'"
    assert literal(True) == "true"
    assert literal(42) == "42"
    assert literal(0.5) == "0.5"
    assert literal(1e-9) == "1e-09"
    assert literal(None) == "NULL"
    assert literal(date(2026, 11, 20)) == "DATE '2026-11-20'"
    cet = datetime(2026, 11, 20, 11, 30, tzinfo=UTC).astimezone()
    assert literal(cet) == "TIMESTAMP '2026-11-20 11:30:00.000000 UTC'"
    with pytest.raises(ValueError, match="time zone"):
        literal(datetime(2026, 11, 20))  # noqa: DTZ001
    with pytest.raises(ValueError, match="no SQL literal"):
        literal(float("nan"))


def test_region_counts_start_in_the_workgroup_poll_and_read_typed_rows(
    athena_server: MotoServer, athena: Recording
) -> None:
    _queue(
        athena_server,
        REGION_COLUMNS,
        [["0", "europe", "7"], ["0", "oceans", "2"], ["1", None, "8"]],
    )
    _polls_before_done(athena_server, 2)
    counts = flights.region_counts(FlightsEngine(), replace(SCOPE, flights=_table(athena)))

    assert counts.aircraft == 8
    found = {r.region: r.aircraft for r in counts.regions}
    assert found == dict.fromkeys(REGIONS, 0) | {"europe": 7, "oceans": 2}
    assert athena.calls[0] == "start_query_execution"
    assert athena.calls.count("get_query_execution") > 1
    assert athena.calls[-1] == "get_paginator"

    [execution_id] = athena.client.list_query_executions(WorkGroup="analytics")["QueryExecutionIds"]
    execution = athena.client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    assert execution["WorkGroup"] == "analytics"
    assert execution["QueryExecutionContext"] == {"Database": "flightdata_ci"}
    assert 'FROM "flightdata_ci"."flights" AS f' in execution["Query"]
    assert execution["ExecutionParameters"] == [
        "'2026-11-20'",
        "'2026-11-20'",
        "TIMESTAMP '2026-11-20 10:00:00.000000 UTC'",
        "TIMESTAMP '2026-11-20 12:00:00.000000 UTC'",
    ]


def test_values_are_converted_by_their_column_type(
    athena_server: MotoServer, athena: Recording
) -> None:
    columns = [("n", "bigint"), ("x", "double"), ("b", "boolean"), ("s", "varchar")]
    _queue(athena_server, columns, [["12", "0.25", "true", "12"], [None, None, "false", None]])
    rows = _table(athena).run_query(load("day_totals"), ["2026-11-20"] * 2 + [START, END])
    assert rows == [(12, 0.25, True, "12"), (None, None, False, None)]


def test_a_query_without_rows_is_empty(athena_server: MotoServer, athena: Recording) -> None:
    _queue(athena_server, REGION_COLUMNS, [])
    counts = flights.region_counts(FlightsEngine(), replace(SCOPE, flights=_table(athena)))
    assert counts.aircraft == 0
    assert {r.aircraft for r in counts.regions} == {0}


def test_a_query_that_runs_too_long_is_stopped(
    athena_server: MotoServer, athena: Recording
) -> None:
    _polls_before_done(athena_server, 10_000)
    with pytest.raises(QueryFailed, match="ran over"):
        _table(athena, timeout_s=0.05).run_query(load("day_totals"), ["d", "d", START, END])
    [execution_id] = athena.client.list_query_executions(WorkGroup="analytics")["QueryExecutionIds"]
    state = athena.client.get_query_execution(QueryExecutionId=execution_id)
    assert state["QueryExecution"]["Status"]["State"] == "CANCELLED"
    assert "stop_query_execution" in athena.calls


def test_a_workgroup_that_does_not_exist_is_unavailable(athena: Recording) -> None:
    table = AthenaTable(lambda: athena, workgroup="nowhere", database="flightdata_ci")  # type: ignore[arg-type,return-value]
    with pytest.raises(AthenaUnavailable, match="nowhere"):
        table.run_query(load("day_totals"), ["d", "d", START, END])


class _Failing:
    """An Athena that fails every query as one over the scan limit is failed (moto's
    queries always succeed)."""

    def start_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, **kwargs: Any) -> dict[str, Any]:
        reason = "Query cancelled: it exceeded the bytes scanned limit of the workgroup"
        return {"QueryExecution": {"Status": {"State": "CANCELLED", "StateChangeReason": reason}}}


def test_a_cancelled_query_fails_with_athenas_reason() -> None:
    table = AthenaTable(_Failing, workgroup="wg", database="flightdata_ci")  # type: ignore[arg-type]
    with pytest.raises(QueryFailed, match=r"CANCELLED: .*bytes scanned limit") as failed:
        FlightsEngine().rows("day_totals", table, SCOPE.values())
    assert failed.value.query == "day_totals"


def test_the_service_queries_windows_on_athena_when_a_workgroup_is_set(
    athena_server: MotoServer, athena: Recording, tmp_path: Any
) -> None:
    settings = Settings.from_env(
        {},
        data_dir=tmp_path,
        athena_workgroup="analytics",
        glue_database="flightdata_ci",
        aws_endpoint_url=athena_server.endpoint_url,
    )
    _queue(athena_server, REGION_COLUMNS, [["0", "asia", "3"], ["1", None, "3"]])
    stores = _stores(settings)
    try:
        service = build_service(stores, settings)
        assert isinstance(service.processed, AthenaTable)
        counts = service.region_counts(Window(START, END, "interval"))
    finally:
        stores.close()
    assert counts.basis is Basis.PARQUET
    assert counts.aircraft == 3
    assert len(athena.client.list_query_executions(WorkGroup="analytics")["QueryExecutionIds"]) == 1


def _stores(settings: Settings) -> Any:
    from runtime.stores import open_stores

    return open_stores(settings)


def test_without_a_workgroup_windows_read_the_parquet(tmp_path: Any) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path)
    stores = _stores(settings)
    try:
        service: AnalyticsService = build_service(stores, settings)
        assert not isinstance(service.processed, AthenaTable)
    finally:
        stores.close()
