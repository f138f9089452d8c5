"""``flightdata serve`` on the ``opensky`` source while the upstream misbehaves.

The server runs as its own process against the fake upstream over loopback. Whatever
OpenSky does (errors, timeouts, resets, truncated and HTML bodies, rate limits, null and
foreign payloads, malformed rows), the service keeps running, serves every valid state,
and every record received is stored, a duplicate, or a dead letter with its reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

import upstream
from testkit import FIXTURES, free_port
from upstream import FakeUpstream

ALPS = "opensky_states_bbox_alps_79.json"
ALPS_VALID = 78  # one of the 79 has a position 314 s older than the snapshot
STATUS = """{ pipelineStatus { deadLetterCount deadLettersByReason { reason count }
  cycles(last: 1000) { received stored rejected duplicates error
    rejectedByReason { reason count } } } }"""


def _malformed_payload() -> bytes:
    payload = orjson.loads((FIXTURES / ALPS).read_bytes())
    payload["states"] += [["zzzzzz", *payload["states"][0][1:]], [1, 2, 3], "not a row", None]
    return orjson.dumps(payload)


@pytest.fixture
def misbehaving() -> Iterator[FakeUpstream]:
    with FakeUpstream(opensky_fixture=ALPS) as fake:
        fake.enqueue(
            upstream.OPENSKY_PATH,
            upstream.error(503),
            upstream.timeout(2.0),
            upstream.reset(),
            upstream.truncated(300),
            upstream.html_page(200),
            upstream.html_page(502),
            upstream.rate_limited(2, remaining=0),
            upstream.null_states(),
            upstream.Canned(200, b'{"unexpected": "layout"}'),
            upstream.Canned(200, _malformed_payload()),
            upstream.error(500),
        )
        yield fake


def _query(client: httpx.Client, url: str, query: str) -> dict[str, Any]:
    body: dict[str, Any] = client.post(url, json={"query": query}).json()
    assert "errors" not in body, body
    return body["data"]


def test_the_service_rides_out_a_misbehaving_opensky(
    misbehaving: FakeUpstream, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "FLIGHTDATA_DATA_DIR": str(tmp_path),
        "FLIGHTDATA_SOURCE": "opensky",
        "OPENSKY_API_URL": f"{misbehaving.url}/api",
        "FLIGHTDATA_INTERVAL": "0.2",
        "FLIGHTDATA_HTTP_TIMEOUT": "0.5",
        "FLIGHTDATA_RETRY_WAIT": "0.01",
        "OPENSKY_MAX_RETRY_AFTER": "0.1",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        with httpx.Client(timeout=5) as client:
            deadline = time.monotonic() + 40
            status: dict[str, Any] = {}
            while time.monotonic() < deadline:
                assert server.poll() is None, "the server died"
                try:
                    status = _query(client, url, STATUS)["pipelineStatus"]
                except httpx.HTTPError:
                    time.sleep(0.2)
                    continue
                # Every fault has been served and normal answers came back after them.
                if not misbehaving._queues.get(upstream.OPENSKY_PATH) and any(
                    c["duplicates"] >= ALPS_VALID for c in status["cycles"]
                ):
                    break
                time.sleep(0.2)
            else:
                pytest.fail(f"the faults were not all served in time: {status}")

            flights = _query(client, url, "{ flights(first: 1000) { totalCount } }")
            health = client.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        server.terminate()
        server.wait(10)

    assert health.status_code == 200
    assert flights["flights"]["totalCount"] == ALPS_VALID
    cycles = status["cycles"]
    assert all(c["received"] == c["stored"] + c["rejected"] + c["duplicates"] for c in cycles)
    assert sum(c["stored"] for c in cycles) == ALPS_VALID
    assert any(c["error"] and "429" in c["error"] for c in cycles)
    reasons = {r["reason"]: r["count"] for r in status["deadLettersByReason"]}
    # A record rejected again in a later cycle (the same stale state, say) is one letter.
    rejected_reasons = {r["reason"] for c in cycles for r in c["rejectedByReason"]}
    assert rejected_reasons == set(reasons)
    assert status["deadLetterCount"] <= sum(c["rejected"] for c in cycles)
    assert reasons["invalid_payload"] == 1  # the foreign layout
    assert reasons["unparseable_payload"] >= 1  # truncated and HTML bodies
    assert reasons["malformed_row"] == 3
    assert reasons["invalid_icao24"] == 1
    assert reasons["stale_position"] == 1
