"""What each process of ``flightdata serve`` imports: the API process leaves the analytics
engine and pandas out until they are needed (the live figures do without DuckDB), the
ingest process the web stack. And what it allocates Arrow's memory from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

_API = """
import os
import sys
from datetime import UTC, datetime
from starlette.testclient import TestClient
import app
from config import Settings
from domain import FlightState
from runtime.stores import open_stores
with open_stores(Settings.from_env(os.environ)) as stores:
    now = datetime.now(UTC)
    stores.flights.put_states([FlightState.model_validate({
        "icao24": "abc123", "last_contact": now, "time_position": now, "source": "REPLAY",
        "latitude": 48.85, "longitude": 2.35, "baro_altitude_m": 10000.0,
    })])
with TestClient(app.create_app()) as client:
    body = client.post("/graphql", json={"query": "{ flights { totalCount } }"}).json()
    assert "errors" not in body, body
    figures = (
        "regionCounts { aircraft } countryCounts { aircraft }"
        " altitudeHistogram(bucketM: 500) { aircraft } trafficDensity(cellDeg: 2) { aircraft }"
    )
    body = client.post("/graphql", json={"query": "{ analytics { " + figures + " } }"}).json()
    assert "errors" not in body, body
    assert body["data"]["analytics"]["trafficDensity"]["aircraft"] == 1, body
print(sorted(sys.modules))
"""
_INGEST = """
import sys
import cli
try:
    cli.main(["ingest", "--once", "--source", "replay"])
except SystemExit as exit:
    assert not exit.code, exit.code
import pyarrow
print(pyarrow.default_memory_pool().backend_name)
print(sorted(sys.modules))
"""


def _run(code: str, data_dir: Path) -> list[str]:
    """The lines ``code`` printed, run in a new interpreter on ``data_dir``."""
    env = {
        **os.environ,
        "FLIGHTDATA_DATA_DIR": str(data_dir),
        "FLIGHTDATA_INGEST": "false",
        "FLIGHTDATA_SECURITY": "false",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    env.pop("ARROW_DEFAULT_MEMORY_POOL", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def _modules(printed: list[str]) -> set[str]:
    return set(orjson.loads(printed[-1].replace("'", '"')))


def test_the_api_process_answers_flights_and_live_figures_without_duckdb_pyarrow_or_pandas(
    tmp_path: Path,
) -> None:
    loaded = _modules(_run(_API, tmp_path))
    assert "strawberry" in loaded  # the probe ran the app
    assert not {"duckdb", "pyarrow", "pandas"} & loaded


def test_the_ingest_process_runs_a_cycle_without_the_web_api_or_duckdb(tmp_path: Path) -> None:
    printed = _run(_INGEST, tmp_path)
    loaded = _modules(printed)
    assert list(tmp_path.glob("processed/**/*.parquet"))  # the cycle's Parquet was written
    assert not {"duckdb", "strawberry", "graphql", "uvicorn"} & loaded
    # Arrow's own allocator keeps what a Parquet flush freed (runtime.process).
    assert printed[-2] == "system"
