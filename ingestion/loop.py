"""The ingest loop: one cycle every interval, never two at once.

Fetching runs on the event loop; the CPU-bound part of a cycle (parse, validate, store)
runs in a worker thread so the API stays responsive. A failed cycle is logged and counted,
and the loop carries on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from datetime import UTC, datetime, timedelta

from ingestion.batch import CycleReport
from ingestion.pipeline import Pipeline
from ingestion.sources import FlightSource

log = logging.getLogger(__name__)
_PRUNE_EVERY_S = 600.0


class IngestLoop:
    """Runs ``source`` through ``pipeline``; keeps the most recent cycle reports."""

    def __init__(
        self,
        source: FlightSource,
        pipeline: Pipeline,
        *,
        interval_s: float,
        history: timedelta,
        keep_reports: int = 100,
    ) -> None:
        self.source = source
        self.pipeline = pipeline
        self.interval_s = interval_s
        self.history = history
        self.reports: deque[CycleReport] = deque(maxlen=keep_reports)
        self._lock = asyncio.Lock()
        self._last_prune = 0.0

    async def run_once(self) -> CycleReport:
        async with self._lock:
            started = datetime.now(UTC)
            try:
                payload = await self.source.fetch()
                report = await asyncio.to_thread(
                    self.pipeline.process, self.source.name, payload, self.source.normalise
                )
            except Exception as exc:
                log.warning("ingest cycle from %s failed: %s", self.source.name, exc)
                report = CycleReport(
                    source=self.source.name,
                    started_at=started,
                    finished_at=datetime.now(UTC),
                    error=str(exc),
                )
            self.reports.append(report)
            await self._maybe_prune()
            log.info(
                "ingest %s: received=%d stored=%d rejected=%d duplicates=%d",
                report.source,
                report.received,
                report.stored,
                report.rejected,
                report.duplicates,
            )
            return report

    async def _maybe_prune(self) -> None:
        if time.monotonic() - self._last_prune < _PRUNE_EVERY_S:
            return
        self._last_prune = time.monotonic()
        cutoff = datetime.now(UTC) - self.history
        try:
            removed = await asyncio.to_thread(self.pipeline.flights.prune, cutoff)
        except Exception as exc:
            log.warning("pruning history failed: %s", exc)
            return
        if removed:
            log.info("pruned %d states older than %s", removed, cutoff.isoformat())

    async def run_forever(self) -> None:
        while True:
            started = time.monotonic()
            await self.run_once()
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))
