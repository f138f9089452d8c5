"""Request ids, structured logs, Prometheus and CloudWatch metrics, readiness, X-Ray."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from testredis import redis_url

from app import Runtime, create_app
from config import ConfigError, Settings
from domain.cycle import CycleReport
from domain.events import FlightDataProcessed
from live.filtering import UpdateFilter
from observability import logs, metrics, xray
from observability.context import bound
from observability.emf import EmfWriter
from observability.logs import JsonFormatter, TextFormatter
from runtime import lambdas
from storage.base import StoreUnavailable
from testkit import (
    FIXTURES,
    T0,
    ReplayWorld,
    TestClient,
    close_leftover_event_loop,
    make_state,
)

ROOT = Path(__file__).resolve().parent.parent
EVENTS = FIXTURES / "events"
HEX32 = re.compile(r"[0-9a-f]{32}")
TEST_REDIS = redis_url(9)


class _LambdaContext:
    function_name = "flight-data-fetcher"
    aws_request_id = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"


def _runtime(client: TestClient) -> Runtime:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the root logger writes through a JSON-formatting handler, at INFO and up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def own_event_loops() -> Iterator[None]:
    """For code that uses the main thread's event loop (Mangum, ``asyncio.run``)."""
    close_leftover_event_loop()
    yield
    close_leftover_event_loop()


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- request ids ---


def test_a_request_without_an_id_gets_a_fresh_one(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/no/such/page").headers["x-request-id"]

    assert HEX32.fullmatch(first)
    assert HEX32.fullmatch(second)
    assert first != second


def test_the_callers_id_is_kept_and_a_malformed_one_replaced(client: TestClient) -> None:
    kept = client.get("/healthz", headers={"X-Request-ID": "trace-42:a/b=c"})
    replaced = client.get("/healthz", headers={"X-Request-ID": "two words"})
    too_long = client.get("/healthz", headers={"X-Request-ID": "x" * 129})

    assert kept.headers["x-request-id"] == "trace-42:a/b=c"
    assert HEX32.fullmatch(replaced.headers["x-request-id"])
    assert HEX32.fullmatch(too_long.headers["x-request-id"])


def test_what_a_request_logs_names_its_id(
    client: TestClient, log_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(icao24: str) -> None:
        raise StoreUnavailable("the disk went away")

    monkeypatch.setattr(_runtime(client).stores.flights, "latest", unavailable)

    response = client.get("/v1/flights/abcdef", headers={"X-Request-ID": "req-7"})

    assert response.status_code == 503
    assert response.json() == {"error": "the store is unavailable; try again shortly"}
    [record] = [r for r in _records(log_lines) if "store unavailable" in r["message"]]
    assert record["request_id"] == "req-7"
    assert record["level"] == "WARNING"
    assert record["logger"] == "api._http"


@pytest.mark.usefixtures("own_event_loops")
def test_a_lambda_invocation_is_answered_with_its_request_id(
    monkeypatch: pytest.MonkeyPatch, seeded_settings: Settings
) -> None:
    monkeypatch.setenv("FLIGHTDATA_DATA_DIR", str(seeded_settings.data_dir))
    monkeypatch.setenv("FLIGHTDATA_INGEST", "false")
    event = json.loads((EVENTS / "apigw_http_v2_healthz_get.json").read_text())

    response = lambdas.LazyMangum()(event, _LambdaContext())

    assert response["headers"]["x-request-id"] == _LambdaContext.aws_request_id


# --- logs ---


def test_a_json_record_carries_the_ids_extras_and_exception() -> None:
    logger = logging.getLogger("flightdata.test")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            1,
            "failed %s",
            ("x",),
            sys.exc_info(),
            extra={"icao24": "4ca7b5"},
        )
    with bound(request_id="r-1", cycle_id="replay@20261127T100000.000000Z"):
        line = JsonFormatter().format(record)
        text = TextFormatter().format(record)

    body = json.loads(line)
    assert body["message"] == "failed x"
    assert body["level"] == "ERROR"
    assert body["request_id"] == "r-1"
    assert body["cycle_id"] == "replay@20261127T100000.000000Z"
    assert body["icao24"] == "4ca7b5"
    assert "ValueError: boom" in body["exception"]
    assert body["time"].endswith("+00:00")
    assert "failed x request_id=r-1 cycle_id=replay@" in text


def test_the_cli_logs_json_lines_naming_the_cycle(seeded_settings: Settings) -> None:
    fixture = FIXTURES / "opensky_states_bbox_alps_79.json"
    env = {
        **os.environ,
        "FLIGHTDATA_DATA_DIR": str(seeded_settings.data_dir),
        "LOG_LEVEL": "INFO",
    }
    env.pop("LOG_FORMAT", None)

    result = subprocess.run(
        [sys.executable, "-m", "app", "ingest", "--source", f"file:{fixture}", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    [summary] = [r for r in records if r["message"].startswith("ingest file:")]
    assert "received=79" in summary["message"]
    assert re.fullmatch(r"file:.*@\d{8}T\d{6}\.\d{6}Z", summary["cycle_id"])


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize(
    ("kind", "tty", "lambda_name", "expected"),
    [
        ("auto", True, "", TextFormatter),  # make run in a terminal: lines a person reads
        ("auto", False, "", JsonFormatter),  # a pipe, a file, a collector
        ("auto", True, "flightdata-dev-api", JsonFormatter),  # Lambda: always JSON
        ("json", True, "", JsonFormatter),
        ("text", False, "", TextFormatter),
    ],
)
def test_log_format_auto_is_text_on_a_terminal_and_json_elsewhere(
    kind: str,
    tty: bool,
    lambda_name: str,
    expected: type[logging.Formatter],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", lambda_name)
    handler = logging.StreamHandler(_Stream(tty))

    assert type(logs.formatter(kind, handler)) is expected


def test_configure_formats_each_handler_for_its_destination() -> None:
    root = logging.getLogger()
    saved = (root.level, root.handlers[:], [h.formatter for h in root.handlers])
    terminal = logging.StreamHandler(_Stream(True))
    pipe = logging.StreamHandler(_Stream(False))
    root.handlers[:] = [terminal, pipe]
    try:
        logs.configure("INFO", "auto")
        logging.getLogger("flightdata.test").info("hello")
    finally:
        level, handlers, formatters = saved
        root.handlers[:] = handlers
        for handler, formatter in zip(handlers, formatters, strict=True):
            handler.setFormatter(formatter)
        root.setLevel(level)

    assert isinstance(terminal.stream, _Stream)
    assert isinstance(pipe.stream, _Stream)
    assert terminal.stream.getvalue().split(" ", 2)[2].startswith("INFO flightdata.test: hello")
    assert json.loads(pipe.stream.getvalue())["message"] == "hello"


# --- Prometheus ---


def _count(name: str, labels: dict[str, str]) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def _scrape(client: TestClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _value(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    [value] = [v for found, v in samples.get(name, []) if found == labels]
    return value


LATENCY = "flightdata_graphql_request_duration_seconds_count"


def test_graphql_latency_is_counted_per_operation(client: TestClient) -> None:
    query = 'query AirportByCode { airport(code: "LHR") { icao } }'
    before = {op: _count(LATENCY, {"operation": op}) for op in ("AirportByCode", "anonymous")}

    client.post("/graphql", json={"query": query, "operationName": "AirportByCode"})
    client.get("/graphql", params={"query": query, "operationName": "AirportByCode"})
    client.post("/graphql", json={"query": '{ airport(code: "LHR") { icao } }'})
    samples = _scrape(client)

    assert _count(LATENCY, {"operation": "AirportByCode"}) == before["AirportByCode"] + 2
    assert _count(LATENCY, {"operation": "anonymous"}) == before["anonymous"] + 1
    assert _value(samples, LATENCY, operation="AirportByCode") == before["AirportByCode"] + 2
    buckets = [
        v
        for labels, v in samples["flightdata_graphql_request_duration_seconds_bucket"]
        if labels["operation"] == "AirportByCode"
    ]
    assert buckets == sorted(buckets)


def test_operation_names_from_clients_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert metrics.operation_label("Flights_2") == "Flights_2"
    assert metrics.operation_label("2fast") == "invalid"
    assert metrics.operation_label(["A"]) == "invalid"
    assert metrics.operation_label(None) == "anonymous"
    monkeypatch.setattr(metrics, "_children", {})
    monkeypatch.setattr(metrics, "MAX_OPERATIONS", 2)
    before = _count(LATENCY, {"operation": "other"})

    for name in ("BoundA", "BoundB", "BoundC", "BoundD"):
        metrics.observe_graphql(name, 0.001)

    assert _count(LATENCY, {"operation": "BoundB"}) >= 1
    assert _count(LATENCY, {"operation": "BoundC"}) == 0
    assert _count(LATENCY, {"operation": "other"}) == before + 2


def test_cycle_records_are_counted_by_outcome_from_the_events(client: TestClient) -> None:
    labels = {"source": "obs-test"}
    before = {
        o: _count("flightdata_ingest_records_total", {**labels, "outcome": o})
        for o in ("stored", "rejected", "duplicates")
    }
    cycles = _count("flightdata_ingest_cycles_total", labels)

    _runtime(client).events.publish(
        FlightDataProcessed(
            source="obs-test", cycle_id="c1", received=10, stored=7, rejected=2, duplicates=1
        )
    )
    samples = _scrape(client)

    for outcome, added in (("stored", 7), ("rejected", 2), ("duplicates", 1)):
        value = _value(
            samples, "flightdata_ingest_records_total", source="obs-test", outcome=outcome
        )
        assert value == before[outcome] + added
    assert _value(samples, "flightdata_ingest_cycles_total", source="obs-test") == cycles + 1


def test_dead_letters_and_the_newest_state_are_read_from_the_store(
    replay_world: ReplayWorld,
) -> None:
    samples = _scrape(replay_world.client)
    reasons = replay_world.runtime.stores.dead_letters.reasons()

    assert reasons
    for reason, count in reasons.items():
        assert _value(samples, "flightdata_dead_letters", reason=reason) == count
    assert _value(samples, "flightdata_store_up") == 1
    assert 0 <= _value(samples, "flightdata_newest_state_age_seconds") < 60


def test_the_last_recorded_cycle_and_the_subscribers(client: TestClient) -> None:
    runtime = _runtime(client)
    report = CycleReport(source="opensky", started_at=T0, cycle_id="opensky@x")
    report.received, report.stored, report.rejected, report.duplicates = 100, 90, 6, 4
    runtime.stores.cycles.put_cycle(report)

    with runtime.hub.subscribe(UpdateFilter()), runtime.hub.subscribe(UpdateFilter()):
        samples = _scrape(client)

    for outcome, value in (("received", 100), ("stored", 90), ("rejected", 6), ("duplicates", 4)):
        assert (
            _value(samples, "flightdata_last_cycle_records", source="opensky", outcome=outcome)
            == value
        )
    assert _value(samples, "flightdata_last_cycle_timestamp_seconds") == T0.timestamp()
    assert _value(samples, "flightdata_subscribers") == 2
    assert _scrape(client)["flightdata_subscribers"] == [({}, 0.0)]


def test_a_store_that_fails_the_scrape_reads_as_down(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> dict[str, int]:
        raise StoreUnavailable("gone")

    monkeypatch.setattr(_runtime(client).stores.dead_letters, "reasons", unavailable)

    samples = _scrape(client)

    assert _value(samples, "flightdata_store_up") == 0
    assert "flightdata_rate_limited_requests_total" in samples  # the rest is still served


@pytest.fixture
def redis_client(seeded_settings: Settings) -> Iterator[TestClient]:
    app = create_app(replace(seeded_settings, redis_url=TEST_REDIS), ingest=False)
    stores = app.state.runtime.stores
    try:
        stores.redis.flushdb()
    except Exception as exc:  # a missing Redis must fail the test, not skip it
        pytest.fail(f"this test needs redis-server at {TEST_REDIS}: {exc}")
    with TestClient(app) as test_client:
        yield test_client
    stores.redis.flushdb()


def test_cache_hits_and_misses_are_this_processes_counters(redis_client: TestClient) -> None:
    redis_client.get("/v1/flights", params={"bbox": "40,0,50,10"})
    redis_client.get("/v1/flights", params={"bbox": "40,0,50,10"})
    redis_client.get("/v1/flights", params={"bbox": "40,0,50,11"})

    samples = _scrape(redis_client)

    assert _value(samples, "flightdata_cache_hits_total") == 1
    assert _value(samples, "flightdata_cache_misses_total") == 2
    assert _value(samples, "flightdata_cache_errors_total") == 0


# --- readiness ---


def test_an_empty_store_is_alive_but_not_ready(client: TestClient) -> None:
    ready = client.get("/readyz")

    assert client.get("/healthz").status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unready",
        "checks": {"store": "ok", "data": "empty: no state has been stored yet"},
    }


def test_recent_data_is_ready(replay_world: ReplayWorld) -> None:
    response = replay_world.client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"store": "ok", "data": "ok"}
    assert 0 <= body["newest_state_age_s"] < 60


def test_old_data_is_not_ready(client: TestClient) -> None:
    _runtime(client).stores.flights.put_states([make_state(time=T0)])

    response = client.get("/readyz")

    assert response.status_code == 503
    assert re.fullmatch(
        r"stale: the newest state is \d+ s old \(at most 120\)", response.json()["checks"]["data"]
    )


def test_an_unreachable_store_is_not_ready(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable() -> None:
        raise StoreUnavailable("no such table")

    monkeypatch.setattr(_runtime(client).stores, "ping", unreachable)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unready", "checks": {"store": "unreachable"}}


def test_the_readiness_age_is_a_setting(seeded_settings: Settings) -> None:
    settings = replace(seeded_settings, ready_max_age_s=10 * 365 * 86400.0)
    with TestClient(create_app(settings, ingest=False)) as client:
        _runtime(client).stores.flights.put_states([make_state(time=T0)])
        assert client.get("/readyz").status_code == 200


# --- CloudWatch embedded metrics ---


def test_an_emf_document_declares_its_metrics_and_carries_the_ids() -> None:
    stream = io.StringIO()
    with bound(request_id="r-9", cycle_id="c-9"):
        EmfWriter("FlightData", stream).put(
            {"RecordsStored": (5, "Count"), "Latency": (1.5, "Milliseconds")},
            {"Source": "opensky"},
            {"archive_key": "raw/x"},
        )

    doc = json.loads(stream.getvalue())
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    assert directive == {
        "Namespace": "FlightData",
        "Dimensions": [["Source"]],
        "Metrics": [
            {"Name": "RecordsStored", "Unit": "Count"},
            {"Name": "Latency", "Unit": "Milliseconds"},
        ],
    }
    assert isinstance(doc["_aws"]["Timestamp"], int)
    assert (doc["Source"], doc["RecordsStored"], doc["Latency"]) == ("opensky", 5, 1.5)
    assert (doc["request_id"], doc["cycle_id"], doc["archive_key"]) == ("r-9", "c-9", "raw/x")


def test_data_age_is_the_seconds_since_the_newest_state() -> None:
    stream = io.StringIO()
    writer = EmfWriter("FlightData", stream)

    writer.data_age(datetime.now(UTC) - timedelta(seconds=90), function="processor")
    writer.data_age(None, function="processor")  # an empty store: no datapoint

    [doc] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert doc["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "DataAgeSeconds", "Unit": "Seconds"}
    ]
    assert doc["Function"] == "processor"
    assert 90 <= doc["DataAgeSeconds"] < 120


def test_cache_lookups_are_written_only_when_there_were_some() -> None:
    stream = io.StringIO()
    writer = EmfWriter("FlightData", stream)

    writer.cache(0, 0, function="api")
    writer.cache(3, 1, function="api")

    [doc] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert (doc["CacheHits"], doc["CacheMisses"], doc["Function"]) == (3, 1, "api")
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Function"]]


@pytest.mark.usefixtures("own_event_loops")
def test_the_fetcher_lambda_writes_its_cycle_as_emf(
    monkeypatch: pytest.MonkeyPatch, seeded_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLIGHTDATA_DATA_DIR", str(seeded_settings.data_dir))
    monkeypatch.setenv("FLIGHTDATA_SOURCE", f"file:{FIXTURES / 'opensky_states_bbox_alps_79.json'}")
    lambdas.reset_runtime()
    event = json.loads((EVENTS / "eventbridge_scheduled.json").read_text())
    try:
        result = lambdas.fetcher(event, _LambdaContext())
    finally:
        lambdas.reset_runtime()

    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [cycle] = [d for d in docs if "RecordsReceived" in d]
    assert cycle["RecordsReceived"] == result["received"] == 79
    assert cycle["RecordsStored"] == result["stored"]
    assert cycle["RecordsRejected"] == result["rejected"]
    assert cycle["CycleFailed"] == 0
    assert cycle["request_id"] == _LambdaContext.aws_request_id
    assert cycle["cycle_id"] == result["cycle_id"]
    letters = [d for d in docs if "DeadLetters" in d]
    assert sum(d["DeadLetters"] for d in letters) == result["rejected"]
    assert all(
        d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Reason", "Source"]] for d in letters
    )


def test_graphql_latency_can_go_to_emf_too(client: TestClient) -> None:
    stream = io.StringIO()
    writer = EmfWriter("FlightData", stream)
    metrics.add_graphql_sink(writer.graphql)
    try:
        client.post("/graphql", json={"query": "query Q { __typename }", "operationName": "Q"})
    finally:
        metrics.remove_graphql_sink(writer.graphql)

    [doc] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert doc["Operation"] == "Q"
    assert 0 < doc["GraphQLLatency"] < 1000


# --- X-Ray and settings ---


def _python(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_xray_patches_the_sdks_only_when_asked() -> None:
    on = _python(
        "from config import Settings; from observability import xray; "
        "print(xray.enable(Settings.from_env())); "
        "from aws_xray_sdk.core.patcher import _PATCHED_MODULES; print(sorted(_PATCHED_MODULES))",
        FLIGHTDATA_XRAY="true",
    )
    off = _python(
        "import sys, app, cli, runtime.lambdas; from config import Settings; "
        "from observability import xray; print(xray.enable(Settings.from_env())); "
        "print('aws_xray_sdk' in sys.modules)",
        FLIGHTDATA_XRAY="false",
    )

    assert on.splitlines() == ["True", "['botocore', 'httpx']"]
    assert off.splitlines() == ["False", "False"]


def test_xray_without_its_package_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setitem(sys.modules, "aws_xray_sdk.core", None)
    monkeypatch.setattr(xray, "_enabled", False)

    with pytest.raises(ConfigError, match=r"FLIGHTDATA_XRAY: .*pip install 'flightdata\[xray\]'"):
        xray.enable(replace(settings, xray=True))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOG_FORMAT": "yaml"}, "LOG_FORMAT: expected one of auto, json, text"),
        ({"FLIGHTDATA_READY_MAX_AGE": "0"}, "FLIGHTDATA_READY_MAX_AGE: must be greater than 0"),
        ({"FLIGHTDATA_SITE_LAT": "51.5"}, "set both or neither"),
        ({"FLIGHTDATA_SITE_LAT": "91", "FLIGHTDATA_SITE_LON": "0"}, "between -90 and 90"),
    ],
)
def test_observability_settings_are_checked(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env(env)


def test_observability_settings_have_defaults() -> None:
    settings = Settings.from_env({})

    assert settings.log_format == "auto"
    assert settings.ready_max_age_s == 120.0
    assert settings.xray is False
    assert (settings.site_lat, settings.site_lon) == (None, None)
    assert timedelta(seconds=settings.ready_max_age_s) == timedelta(minutes=2)
