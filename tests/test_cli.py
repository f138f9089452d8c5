"""The ``flightdata`` command, in process and as the installed console script; and one
end-to-end run of ``flightdata serve`` on a free loopback port."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import cli
from config import Settings
from domain.geo import haversine_km
from resolvers.root import build_schema
from runtime.stores import open_stores
from schema import export_sdl
from testkit import FIXTURES, free_port

ALPS = FIXTURES / "opensky_states_bbox_alps_79.json"
BIN = Path(sys.executable).parent
# Variables the command reads or writes; each test starts without them and gets back the
# environment it had (``cli`` exports flags to ``os.environ`` for worker processes).
ENV_NAMES = (*cli._ENV_OF.values(), "FLIGHTDATA_INGEST", "FLIGHTDATA_GRAPHIQL", "LOG_LEVEL")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    saved = dict(os.environ)
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def data_dir(seeded_settings: Settings) -> Path:
    """A data directory with the airports already seeded (seeding takes half a second)."""
    return seeded_settings.data_dir


def run(*argv: str) -> int:
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    code = exc.value.code
    assert isinstance(code, int)
    return code


def test_ingest_a_recorded_file_once(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.environ["FLIGHTDATA_DATA_DIR"] = str(data_dir)
    assert run("ingest", "--source", f"file:{ALPS}", "--once") == 0
    out = capsys.readouterr().out
    assert out == (
        "received 79, stored 78, rejected 1, duplicates 0; "
        "rejected by reason: {'stale_position': 1}\n"
    )
    # A second run finds everything stored already.
    assert run("ingest", "--source", f"file:{ALPS}", "--once") == 0
    assert capsys.readouterr().out.startswith("received 79, stored 0, rejected 1, duplicates 78")
    # The recording is months old: what was stored stays stored.
    stores = open_stores(Settings.from_env({}, data_dir=data_dir))
    try:
        assert stores.flights.latest("51116f") is not None
    finally:
        stores.close()


def test_flags_win_over_the_environment(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.environ["FLIGHTDATA_DATA_DIR"] = str(tmp_path / "elsewhere")
    os.environ["FLIGHTDATA_SOURCE"] = "opensky"
    assert run("ingest", "--data-dir", str(data_dir), "--source", f"file:{ALPS}") == 0
    assert capsys.readouterr().out.startswith("received 79, stored 78")
    assert not (tmp_path / "elsewhere").exists()


def test_unknown_source_is_a_configuration_error(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("ingest", "--data-dir", str(data_dir), "--source", "carrier-pigeon", "--once")
    assert code == 2
    err = capsys.readouterr().err
    assert "FLIGHTDATA_SOURCE" in err
    assert "unknown source 'carrier-pigeon'" in err


def test_a_failed_cycle_exits_non_zero(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.json"
    assert run("ingest", "--data-dir", str(data_dir), "--source", f"file:{missing}", "--once") == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("received 0, stored 0")
    assert "cycle failed: cannot read" in captured.err


def test_bad_environment_value_names_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    os.environ["PORT"] = "eighty"
    assert run("serve", "--no-ingest") == 2
    assert "flightdata: configuration error: PORT:" in capsys.readouterr().err


def test_schema_export_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "schema.graphql"
    assert run("schema", "export", "--output", str(output)) == 0
    assert output.read_text(encoding="utf-8") == export_sdl(build_schema())
    assert capsys.readouterr().out == f"wrote {output}\n"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run() == 2
    assert run("ingest", "--every", "soon") == 2
    assert "invalid float value" in capsys.readouterr().err


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env.update(extra)
    return env


def test_console_script_ingests(data_dir: Path) -> None:
    result = subprocess.run(
        [str(BIN / "flightdata"), "ingest", "--source", f"file:{ALPS}", "--once"],
        env=subprocess_env(FLIGHTDATA_DATA_DIR=str(data_dir), LOG_LEVEL="WARNING"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("received 79, stored 78, rejected 1, duplicates 0")


def test_python_dash_m_app_is_the_same_command(tmp_path: Path) -> None:
    output = tmp_path / "sdl.graphql"
    result = subprocess.run(
        [sys.executable, "-m", "app", "schema", "export", "--output", str(output)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert output.read_text(encoding="utf-8") == export_sdl(build_schema())


def graphql(base: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables}, timeout=5
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_serve_end_to_end(data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen(
        [str(BIN / "flightdata"), "serve"],
        env=subprocess_env(
            FLIGHTDATA_DATA_DIR=str(data_dir),
            FLIGHTDATA_INTERVAL="1",
            HOST="127.0.0.1",
            PORT=str(port),
            LOG_LEVEL="WARNING",
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, "serve exited early"
            try:
                health = httpx.get(f"{base}/healthz", timeout=1).json()
                if health.get("last_cycle", {}).get("stored"):
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert health.get("store") == "reachable", health
        assert health["last_cycle"]["error"] is None
        # An idle connection outlives the usual clients' reuse of one (httpx: 5 s): a
        # server that closed it first would race the client's next request on it.
        idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        idle.request("GET", "/healthz")
        idle.getresponse().read()
        idle_since = time.monotonic()
        flights = graphql(
            base,
            "{ flights(first: 1000, onGround: false) {"
            " totalCount nodes { icao24 latitude longitude velocityMps } } }",
        )["flights"]
        assert flights["totalCount"] > 4_500
        fast = [f for f in flights["nodes"] if (f["velocityMps"] or 0) > 150][:20]
        assert fast
        query = "query ($id: String!) { flight(icao24: $id) { latitude longitude } }"
        before = {f["icao24"]: (f["latitude"], f["longitude"]) for f in fast}
        started = time.monotonic()
        moved: list[float] = []
        while time.monotonic() - started < 6 and not moved:
            time.sleep(0.5)
            for icao24, (lat, lon) in before.items():
                now = graphql(base, query, id=icao24)["flight"]
                if (now["latitude"], now["longitude"]) != (lat, lon):
                    moved.append(haversine_km(lat, lon, now["latitude"], now["longitude"]))
        elapsed = time.monotonic() - started
        assert moved, "no airborne aircraft moved within 6 s"
        # At most Mach 2 for the time waited, plus a cycle of slack.
        assert all(0 < km < 0.7 * (elapsed + 2) for km in moved), moved
        assert (
            httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}, timeout=5).status_code
            == 200
        )
        time.sleep(max(0.0, idle_since + 5.5 - time.monotonic()))
        sock = idle.sock
        idle.request("GET", "/healthz")
        assert idle.getresponse().status == 200
        assert idle.sock is sock, "a new connection, not the idle one"
        idle.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.seek(0)
        output = log.read()
        log.close()
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it to exit as signalled.
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert f"http://127.0.0.1:{port}/graphql" in output
