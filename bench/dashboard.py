"""The dashboard in a browser: time to the first aircraft, the main-thread cost of one
cycle of the whole world, and the size of what is downloaded.

A real ``flightdata serve`` (embedded default, replay source: the 5,485-aircraft global
snapshot, moved every 5 s) serves the built dashboard (``dashboard/dist``, ``make
dashboard``); ``bench/dashboard_browser.mjs`` drives the system Chromium, headless, through
playwright-core from ``dashboard/node_modules``. The figures are the page's own User
Timing entries:

- ``performance.mark("flightdata:first-aircraft")``, made when aircraft are first drawn:
  its ``startTime`` is milliseconds from navigation start. Median of 3 loads of ``/``,
  each in a fresh browser context (empty cache). Floor 2,000 ms.
- ``performance.measure("flightdata:apply-batch")``, one per subscription batch applied
  and redrawn, with ``detail.flights`` and ``detail.snapshot``: in the world view, the
  batches of 5,000 aircraft or more. The first is the subscription's snapshot (printed
  alone: it also draws the sprites not yet drawn in idle time); the cycles after it are
  the figure, median and max of 5. Floor on the median: 16 ms (one frame at 60 Hz).
- 10,000 aircraft: the same page fed by a stand-in for the WebSocket (playwright's
  ``routeWebSocket`` speaking graphql-transport-ws; 10,000 synthetic aircraft moved every
  2 s), the apply-batch times of five whole cycles, and the intervals between animation
  frames while the map is dragged (the feed paused, so the frames time the panning). Floor:
  the 95th percentile frame within 33.4 ms (30 frames a second).
- The production bundle, gzipped (level 9): every ``.js`` and ``.css`` in
  ``dashboard/dist/assets`` except the basemap chunk (``basemap-*.js``; land outlines,
  printed separately). Floor 350 KB.

The browser and the server share the machine's cores. Without Chromium, node, the build or
playwright-core the benchmark is skipped and says why; a missed floor exits non-zero.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench._common import free_port, line, median

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "dashboard"
# What the server serves at / (FLIGHTDATA_DASHBOARD_DIR), by default dashboard/dist.
DIST = Path(os.environ.get("FLIGHTDATA_DASHBOARD_DIR") or DASHBOARD / "dist").resolve()
BROWSER_SCRIPT = Path(__file__).resolve().parent / "dashboard_browser.mjs"
INTERVAL_S = 5.0
LOADS = 3
BATCHES = 6  # the snapshot, then 5 cycles
# Names that mark the basemap chunk (land outlines), which is measured apart.
BASEMAP_MARKERS = ("basemap", "countries", "land")

FIRST_AIRCRAFT_FLOOR_MS = 2000.0
APPLY_BATCH_FLOOR_MS = 16.0
PAN_FRAME_P95_FLOOR_MS = 1000 / 30 + 0.1  # the frame clock's rounding
BUNDLE_FLOOR_BYTES = 350 * 1024


@dataclass(frozen=True)
class Bundle:
    """Gzipped bytes of the bundle without the basemap, and of the basemap chunk(s)."""

    app_bytes: int
    app_files: int
    basemap_bytes: int
    basemap_files: int


def gzipped_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def is_basemap(path: Path) -> bool:
    return any(marker in path.name.lower() for marker in BASEMAP_MARKERS)


def bundle_sizes(dist: Path = DIST) -> Bundle:
    assets = sorted(p for p in (dist / "assets").iterdir() if p.is_file())
    app = [p for p in assets if p.suffix in {".js", ".css"} and not is_basemap(p)]
    # The basemap chunk whatever its type (a .js module, or a .json asset it fetches).
    basemap = [p for p in assets if is_basemap(p) and p.suffix != ".map"]
    return Bundle(
        app_bytes=sum(gzipped_size(p) for p in app),
        app_files=len(app),
        basemap_bytes=sum(gzipped_size(p) for p in basemap),
        basemap_files=len(basemap),
    )


def missing_prerequisites() -> list[str]:
    """Why the browser figures cannot be measured here; empty when they can."""
    missing = []
    chromium = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        missing.append(f"no Chromium at {chromium} (apt-get install chromium, or CHROMIUM_PATH)")
    if shutil.which("node") is None:
        missing.append("node is not installed")
    if not (DASHBOARD / "node_modules" / "playwright-core").is_dir():
        missing.append("dashboard/node_modules/playwright-core is missing (npm ci in dashboard/)")
    if not (DIST / "index.html").is_file():
        missing.append(f"{DIST / 'index.html'} is missing (make dashboard)")
    return missing


def _wait_for_flights(base: str, server: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    query = {"query": "{ flights(first: 1) { totalCount } }"}
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"flightdata serve exited with code {server.returncode}")
        try:
            body = httpx.post(f"{base}/graphql", json=query, timeout=2).json()
            if body["data"]["flights"]["totalCount"]:
                return
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            pass
        time.sleep(0.3)
    raise RuntimeError("the server ingested nothing in time")


def measure_browser(loads: int = LOADS, batches: int = BATCHES) -> dict[str, Any]:
    """Starts a server, runs the browser script against it, returns the script's figures."""
    with tempfile.TemporaryDirectory(prefix="flightdata-bench-") as tmp:
        port = free_port()
        env = {
            **os.environ,
            "FLIGHTDATA_DATA_DIR": tmp,
            "FLIGHTDATA_SOURCE": "replay",
            "FLIGHTDATA_INTERVAL": str(INTERVAL_S),
            "FLIGHTDATA_DASHBOARD_DIR": str(DIST),
            "LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_for_flights(base, server)
            page = httpx.get(f"{base}/", timeout=5)
            if page.status_code != 200 or 'id="root"' not in page.text:
                raise RuntimeError(f"{base}/ does not serve the dashboard ({page.status_code})")
            done = subprocess.run(
                ["node", str(BROWSER_SCRIPT), base, str(loads), str(batches)],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        finally:
            server.terminate()
            server.wait(10)
    if done.returncode != 0:
        raise RuntimeError(f"the browser script failed:\n{done.stderr.strip()}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _kb(n: int) -> str:
    return f"{n / 1024:,.1f} KB"


def run() -> dict[str, float]:
    print(
        f"dashboard: headless Chromium on the built dashboard, replay every {INTERVAL_S:g} s",
        flush=True,
    )
    missing = missing_prerequisites()
    if missing:
        for reason in missing:
            print(f"  {reason}: skipped", flush=True)
        return {}
    missed: list[str] = []

    bundle = bundle_sizes()
    bundle_ok = bundle.app_bytes <= BUNDLE_FLOOR_BYTES
    if not bundle_ok:
        missed.append("bundle size")
    line(
        f"bundle, gzip -9, basemap excluded ({bundle.app_files} files)",
        f"{_kb(bundle.app_bytes)}  (floor {_kb(BUNDLE_FLOOR_BYTES)}){_mark(bundle_ok)}",
    )
    if bundle.basemap_files:
        line("basemap chunk, gzip -9", _kb(bundle.basemap_bytes))
    else:
        line("basemap chunk, gzip -9", "no basemap chunk found")

    figures = measure_browser()
    line("browser", f"Chromium {figures['chromium']}, headless")
    first: list[float] = figures["firstAircraftMs"]
    first_ms = median(first)
    first_ok = first_ms <= FIRST_AIRCRAFT_FLOOR_MS
    if not first_ok:
        missed.append("time to first aircraft")
    line(
        f"navigation -> first aircraft, median of {len(first)}",
        f"{first_ms:,.0f} ms  (floor {FIRST_AIRCRAFT_FLOOR_MS:,.0f} ms){_mark(first_ok)}",
    )
    line("  each load", ", ".join(f"{ms:,.0f} ms" for ms in first))

    batches = list(
        zip(
            figures["applyBatchMs"][:BATCHES],
            figures["applyBatchFlights"][:BATCHES],
            figures["applyBatchSnapshot"][:BATCHES],
            strict=True,
        )
    )
    snapshots = [(ms, n) for ms, n, snap in batches if snap]
    cycles = [(ms, n) for ms, n, snap in batches if not snap]
    if not cycles:
        raise SystemExit("dashboard: no cycle batch measured after the snapshot")
    applies = [ms for ms, _ in cycles]
    flights = [n for _, n in cycles]
    apply_median, apply_max = median(applies), max(applies)
    apply_ok = apply_median <= APPLY_BATCH_FLOOR_MS
    if not apply_ok:
        missed.append("apply-batch time")
    for ms, n in snapshots:
        line(f"apply+redraw, first snapshot of {n:,} aircraft", f"{ms:.1f} ms")
    line(
        f"apply+redraw, one cycle of {min(flights):,}-{max(flights):,}, median of {len(applies)}",
        f"{apply_median:.1f} ms  (floor {APPLY_BATCH_FLOOR_MS:g} ms){_mark(apply_ok)}",
    )
    line(f"apply+redraw, one cycle, max of {len(applies)}", f"{apply_max:.1f} ms")
    line("  each cycle", ", ".join(f"{ms:.1f} ms" for ms in applies))

    synthetic = figures["synthetic"]
    frames = sorted(synthetic["frameMs"])
    if not frames:
        raise SystemExit("dashboard: no animation frame while the map was dragged")
    frame_median = median(frames)
    frame_p95 = frames[min(len(frames) - 1, round(0.95 * (len(frames) - 1)))]
    pan_ok = frame_p95 <= PAN_FRAME_P95_FLOOR_MS
    if not pan_ok:
        missed.append("panning 10,000 aircraft")
    line(
        f"{synthetic['flights']:,} aircraft: apply+redraw a cycle, median of "
        f"{len(synthetic['applyMs'])}",
        f"{median(synthetic['applyMs']):.1f} ms (each: "
        + ", ".join(f"{ms:.1f}" for ms in synthetic["applyMs"])
        + ")",
    )
    line(
        f"{synthetic['flights']:,} aircraft: dragging, {len(frames)} frames "
        f"in {synthetic['dragMs'] / 1000:.1f} s",
        f"median {frame_median:.1f} ms, p95 {frame_p95:.1f} ms  "
        f"(floor p95 {PAN_FRAME_P95_FLOOR_MS:.1f} ms){_mark(pan_ok)}",
    )

    if missed:
        raise SystemExit(f"dashboard: floor missed: {', '.join(missed)}")
    return {
        "dashboard_bundle_gzip_bytes": float(bundle.app_bytes),
        "dashboard_basemap_gzip_bytes": float(bundle.basemap_bytes),
        "dashboard_first_aircraft_ms": first_ms,
        "dashboard_apply_batch_median_ms": apply_median,
        "dashboard_apply_batch_max_ms": apply_max,
        "dashboard_10k_apply_median_ms": median(synthetic["applyMs"]),
        "dashboard_10k_pan_frame_p95_ms": frame_p95,
    }


def _mark(ok: bool) -> str:
    return "" if ok else "  MISSED"


if __name__ == "__main__":
    run()
