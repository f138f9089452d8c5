"""``flight(icao24:)`` over HTTP: uvicorn with 2 workers, wrk with 64 connections.

The load generator runs on the same machine as the server, so the two share the cores:
the figures are a floor for a dedicated server.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import orjson

from bench._common import free_port, line, scratch_settings, wait_ready
from ingestion.pipeline import Pipeline
from ingestion.reference import seed_airports
from ingestion.replay import ReplaySource
from runtime.process import tune_gc
from runtime.stores import open_stores

ICAO24 = "4ca7b5"
QUERY = f'{{ flight(icao24: "{ICAO24}") {{ icao24 callsign latitude longitude }} }}'
DURATION_S = 15
CONNECTIONS = 64


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(output: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = {
        pct: _ms(value, unit)
        for pct, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return {
        "rps": rps,
        "p50_ms": latency["50"],
        "p99_ms": latency["99"],
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def run() -> dict[str, float]:
    print(f"flight(icao24:) over HTTP: 2 uvicorn workers, wrk -c{CONNECTIONS} -d{DURATION_S}s")
    wrk = shutil.which("wrk")
    if wrk is None:
        print("  wrk is not installed (apt-get install wrk): skipped")
        return {}
    with scratch_settings() as settings:
        stores = open_stores(settings)
        seed_airports(stores)
        replay = ReplaySource()
        Pipeline(stores.flights, stores.dead_letters).process(
            "replay", replay.advance(), replay.normalise
        )
        stores.close()
        port = free_port()
        env = {
            **os.environ,
            "FLIGHTDATA_DATA_DIR": str(settings.data_dir),
            "FLIGHTDATA_INGEST": "false",
            "FLIGHTDATA_LIVE_WINDOW": str(10**9),
            "LOG_LEVEL": "WARNING",
            # The query path alone: one client address at this rate would be refused by
            # the anonymous quota. bench.auth_overhead measures what keys and limits add.
            "FLIGHTDATA_SECURITY": "false",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/healthz")
            check = httpx.post(f"{base}/graphql", json={"query": QUERY}).json()
            assert check["data"]["flight"]["icao24"] == ICAO24, check
            with tempfile.TemporaryDirectory() as tmp:
                script = Path(tmp) / "post.lua"
                body = orjson.dumps({"query": QUERY}).decode()
                script.write_text(
                    'wrk.method = "POST"\n'
                    'wrk.headers["Content-Type"] = "application/json"\n'
                    f"wrk.body = [[{body}]]\n"
                )
                common = [wrk, "-t2", f"-c{CONNECTIONS}", "--latency", "-s", str(script)]
                subprocess.run([*common, "-d3s", f"{base}/graphql"], capture_output=True)
                out = subprocess.run(
                    [*common, f"-d{DURATION_S}s", f"{base}/graphql"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
        finally:
            server.terminate()
            server.wait(10)
    result = parse_wrk(out)
    line("requests/s", f"{result['rps']:,.0f}  (floor 4,000)")
    line("latency p50", f"{result['p50_ms']:.1f} ms")
    line("latency p99", f"{result['p99_ms']:.1f} ms  (floor 50 ms)")
    line("non-2xx responses", f"{result['non_2xx']:.0f}")
    return {f"http_flight_{k}": v for k, v in result.items()}


if __name__ == "__main__":
    tune_gc()
    run()
