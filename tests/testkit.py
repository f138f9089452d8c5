"""Helpers the tests import: fixture paths, hand-made states, a stepped clock, the replayed
world, the service's environment on the AWS backend, and Starlette's ``TestClient``.

Imported as ``testkit`` (``tests/`` is on ``sys.path`` because its conftest is not in a
package); fixtures themselves live in ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from app import Runtime
from domain import FlightState, Source
from ingestion.replay import ReplaySource
from ingestion.validate import validate
from schema._executor import FastExecutionContext
from storage.sqlite import SqliteDatabase, SqliteFlightRepository

if TYPE_CHECKING:
    from moto_server import MotoServer

    from devtools.dynamodb_local import DynamoDBLocal
    from storage.dynamodb import DynamoNames

with warnings.catch_warnings():
    # Starlette 1.x wants httpx2 for its TestClient and warns once, at import, when it falls
    # back to httpx (which the app itself depends on). The client works the same either way.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

__all__ = [
    "FIXTURES",
    "T0",
    "ReplayWorld",
    "SteppedClock",
    "TestClient",
    "close_leftover_event_loop",
    "count_built_events",
    "free_port",
    "make_state",
    "replay_in_sqlite",
    "served",
]

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# 2024-06-01T12:00:00Z: a fixed instant for hand-made states.
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def make_state(icao24: str = "abc123", time: datetime = T0, **fields: Any) -> FlightState:
    """A valid state at ``time`` (both position time and last contact), airborne over Paris."""
    values: dict[str, Any] = {
        "icao24": icao24,
        "callsign": "AFR1234",
        "origin_country": "France",
        "time_position": time,
        "last_contact": time,
        "latitude": 48.85,
        "longitude": 2.35,
        "baro_altitude_m": 10_000.0,
        "velocity_mps": 230.0,
        "true_track_deg": 90.0,
        "vertical_rate_mps": 0.0,
        "source": Source.OPENSKY,
    }
    values.update(fields)
    return FlightState.model_validate(values)


def replay_in_sqlite(
    directory: Path,
) -> tuple[list[FlightState], SqliteDatabase, SqliteFlightRepository]:
    """The replay snapshot's states, validated (over 5,000), and a new SQLite store in
    ``directory`` that holds them; the caller closes the database."""
    normalised = ReplaySource.normalise(ReplaySource().advance())
    states, _ = validate(normalised.candidates, observed_at=normalised.observed_at)
    assert len(states) > 5000
    db = SqliteDatabase(directory / "flights.sqlite3")
    sqlite = SqliteFlightRepository(db)
    sqlite.put_states(states)
    return states, db, sqlite


class SteppedClock:
    """A clock for ``ReplaySource`` that returns the next of its times on each call."""

    def __init__(self, *times: float) -> None:
        self._times = list(times)

    def __call__(self) -> float:
        return self._times.pop(0)


@dataclass
class ReplayWorld:
    """The app after two replay cycles 10 s apart, the second at about now."""

    client: TestClient
    runtime: Runtime
    reports: list[Any]  # the pipeline's cycle reports
    rejected_with_position: int

    def query(self, query: str, **variables: Any) -> dict[str, Any]:
        """POST ``query``; the GraphQL response body (HTTP 200 is asserted)."""
        response = self.client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def count_built_events(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each subscription event from now on was built straight from its object
    (``FastExecutionContext.render_event``) rather than executed, in order."""
    built: list[bool] = []
    render = FastExecutionContext.render_event

    def counted(self: FastExecutionContext, root: Any) -> Any:
        data = render(self, root)
        built.append(data is not None)
        return data

    monkeypatch.setattr(FastExecutionContext, "render_event", counted)
    return built


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(
    env: dict[str, str], *args: str, ready_s: float = 60.0, log: Path | None = None
) -> Iterator[str]:
    """``flightdata serve`` as its own process on a free port, with ``env`` added to this
    process's environment; yields its base URL once ``/healthz`` answers."""
    port = free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), *args],
        env={**os.environ, "LOG_LEVEL": "WARNING", **env},
        stdout=out,
        stderr=out,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_s
        while True:
            assert server.poll() is None, "the server died while starting"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start in time"
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if log:
            out.close()  # type: ignore[union-attr]


def close_leftover_event_loop() -> None:
    """Close the main thread's current event loop, if one was left set: Mangum sets one
    for the life of a Lambda container and never closes it, and a loop dropped unclosed
    fails, by its ResourceWarning, whichever later test happens to collect it."""
    policy = asyncio.get_event_loop_policy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = policy.get_event_loop()
        except RuntimeError:
            return
    if not loop.is_running():
        loop.close()
    policy.set_event_loop(None)


def aws_backend_env(
    aws: MotoServer,
    dynamodb: DynamoDBLocal,
    tables: DynamoNames,
    bucket: str,
    data_dir: Path,
    source: Path,
    /,
) -> dict[str, str]:
    """The environment of the service on the AWS backend against the moto server and
    DynamoDB Local, ingesting ``source`` only when asked to."""
    return {
        "FLIGHTDATA_BACKEND": "aws",
        "FLIGHTDATA_DATA_DIR": str(data_dir),
        "FLIGHTDATA_SOURCE": f"file:{source}",
        "FLIGHTDATA_INGEST": "false",
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        "DYNAMODB_ENDPOINT_URL": dynamodb.endpoint,
        # DynamoDB Local keeps tables per access key: the one its client made them with.
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "eu-west-1",
        "DYNAMODB_FLIGHTS_TABLE": tables.flights,
        "DYNAMODB_AIRPORTS_TABLE": tables.airports,
        "DYNAMODB_OPS_TABLE": tables.ops,
        "S3_RAW_BUCKET": bucket,
    }
