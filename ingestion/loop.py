"""The ingest loop: one cycle every interval, never two at once.

A cycle fetches the source's body (retrying transient failures with exponential backoff
and jitter), archives it byte for byte, parses it, and hands it to the pipeline in a worker
thread so the API stays responsive. A cycle that fails for good is recorded with its error
and the loop carries on; a body that never parsed is kept as a dead letter pointing at its
archived copy.

A body is archived before it is processed, and a processed body has a cycle report naming
it, written with the cycle's states. Before its first cycle the loop finishes what a crash
cut short (``recover``): the Parquet write in progress, then every archived body that no
report names, oldest first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from domain.cycle import CycleReport
from domain.events import EventBus, FlightDataReceived, SystemHealthCheck
from ingestion.errors import UpstreamError
from ingestion.pipeline import Pipeline, RetryPolicy
from ingestion.pipeline import new_cycle_id as new_cycle_id  # where callers import it
from ingestion.rerun import RerunSummary, recover
from ingestion.sources import FlightSource, parse_json
from observability.context import CYCLE_ID
from storage.archive import RawArchive
from storage.base import CycleRepository, DeadLetter, StoreUnavailable
from storage.offload import offload
from storage.retention import FileRetention

log = logging.getLogger(__name__)
_PRUNE_EVERY_S = 600.0
_HEALTH_EVERY_S = 60.0


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, UpstreamError) and exc.transient


class FetchFailed(UpstreamError):
    """Fetching failed for good; ``archive_key`` names the last body received, if any."""

    def __init__(self, message: str, *, archive_key: str | None) -> None:
        super().__init__(message)
        self.archive_key = archive_key


class IngestLoop:
    """Runs ``source`` through ``pipeline``; keeps the most recent cycle reports."""

    def __init__(
        self,
        source: FlightSource,
        pipeline: Pipeline,
        *,
        interval_s: float,
        history: timedelta,
        archive: RawArchive | None = None,
        cycles: CycleRepository | None = None,
        events: EventBus | None = None,
        retry: RetryPolicy | None = None,
        keep_reports: int = 100,
        dead_letter_retention: timedelta = timedelta(days=30),
        recover_window: timedelta = timedelta(hours=1),
        retention: FileRetention | None = None,
    ) -> None:
        self.source = source
        self.pipeline = pipeline
        self.interval_s = interval_s
        self.history = history
        self.dead_letter_retention = dead_letter_retention
        self.recover_window = recover_window
        self.retention = retention
        self.archive = archive
        self.cycles = cycles
        self.events = events
        self.retry = retry or pipeline.retry
        self.reports: deque[CycleReport] = deque(maxlen=keep_reports)
        self._lock = asyncio.Lock()
        self._last_prune = float("-inf")
        self._last_health = float("-inf")

    async def run_once(self) -> CycleReport:
        async with self._lock:
            report = await self._cycle()
            self.reports.append(report)
            await self._maybe_prune()
            await self.flush_processed(force=False)
            self._maybe_health_check(report)
            log.info(
                "ingest %s: received=%d stored=%d rejected=%d duplicates=%d%s",
                report.source,
                report.received,
                report.stored,
                report.rejected,
                report.duplicates,
                f" error={report.error}" if report.error else "",
            )
            return report

    async def _cycle(self) -> CycleReport:
        started = datetime.now(UTC)
        cycle_id = new_cycle_id(self.source.name, started)
        # Named in every log record of the cycle, until the next one (the loop's own task).
        CYCLE_ID.set(cycle_id)
        failed = CycleReport(source=self.source.name, started_at=started, cycle_id=cycle_id)
        try:
            payload, key = await self.fetch_archived(cycle_id)
        except FetchFailed as exc:
            failed.error = str(exc)
            failed.archive_key = exc.archive_key
            if exc.archive_key is not None:
                # A body arrived but never parsed: account for it as one rejected record.
                await self._unparseable(failed, str(exc))
            else:
                await self._record(failed)
            return failed
        except Exception as exc:
            log.exception("ingest cycle from %s failed unexpectedly", self.source.name)
            failed.error = f"unexpected error: {exc!r}"
            await self._record(failed)
            return failed
        report = await offload(
            self.pipeline.process,
            self.source.name,
            payload,
            self.source.normalise,
            cycle_id=cycle_id,
            archive_key=key,
            started_at=started,
        )
        if self.pipeline.cycles is None:
            await self._record(report)
        return report

    async def fetch_archived(self, cycle_id: str) -> tuple[Any, str | None]:
        """Fetch, archive and parse one body, retrying transient failures.

        Every body received is archived before it is parsed. Returns the parsed payload
        and its archive key; raises ``FetchFailed``, naming the last body archived (if
        any), when the retries run out.
        """
        archived: list[str | None] = [None]
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait_exponential_jitter(
                multiplier=self.retry.initial_wait_s, max=self.retry.max_wait_s
            ),
            retry=retry_if_exception(_transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    body = await self.source.fetch()
                    archived[0] = await self._archive(body, datetime.now(UTC))
                    self._received(cycle_id, body, archived[0])
                    return parse_json(body), archived[0]
        except UpstreamError as exc:
            raise FetchFailed(str(exc), archive_key=archived[0]) from exc
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _received(self, cycle_id: str, body: bytes, key: str | None) -> None:
        if self.events is not None:
            self.events.publish(
                FlightDataReceived(
                    source=self.source.name, cycle_id=cycle_id, bytes=len(body), archive_key=key
                )
            )

    async def _archive(self, body: bytes, received_at: datetime) -> str | None:
        if self.archive is None:
            return None
        try:
            return await offload(
                self.archive.put, body, source=self.source.name, received_at=received_at
            )
        except OSError as exc:
            # Better to process without an archived copy than to drop the data.
            log.error("archiving a body from %s failed: %s", self.source.name, exc)
            return None

    async def _unparseable(self, report: CycleReport, detail: str) -> None:
        report.received = report.rejected = 1
        report.reasons["unparseable_payload"] = 1
        letter = DeadLetter(
            reason="unparseable_payload",
            detail=detail,
            source=self.source.name,
            raw={"archive_key": report.archive_key},
            received_at=datetime.now(UTC),
            attempts=self.retry.attempts,
            cycle_id=report.cycle_id,
        )
        try:
            await offload(self._commit_unparseable, report, letter)
        except StoreUnavailable as exc:
            log.error("dead letter for %s could not be stored: %s", report.archive_key, exc)

    def _commit_unparseable(self, report: CycleReport, letter: DeadLetter) -> None:
        with self.pipeline.unit_of_work():
            self.pipeline.dead_letters.add([letter])
            self._put_cycle(report)

    async def _record(self, report: CycleReport) -> None:
        try:
            await offload(self._put_cycle, report)
        except StoreUnavailable as exc:
            log.warning("recording cycle %s failed: %s", report.cycle_id, exc)

    def _put_cycle(self, report: CycleReport) -> None:
        report.finished_at = report.finished_at or datetime.now(UTC)
        if self.cycles is not None:
            self.cycles.put_cycle(report)

    async def flush_processed(self, *, force: bool = True) -> None:
        """Write buffered states to Parquet when due (or now, with ``force``)."""
        writer = self.pipeline.processed
        if writer is None or not (force or writer.due()):
            return
        try:
            keys = await offload(writer.flush)
        except (OSError, StoreUnavailable) as exc:
            log.error("writing Parquet failed: %s", exc)
            return
        if keys:
            log.info("wrote %d Parquet files", len(keys))

    async def _maybe_prune(self) -> None:
        if time.monotonic() - self._last_prune < _PRUNE_EVERY_S:
            return
        self._last_prune = time.monotonic()
        await self._prune_files()
        try:
            # History is measured back from the newest state, not from the clock, so that
            # ingesting an old recording (file:PATH) does not prune what it just stored.
            newest = await offload(self.pipeline.flights.newest_contact)
            now = datetime.now(UTC)
            cutoff = min(now, newest or now) - self.history
            removed = await offload(self.pipeline.flights.prune, cutoff)
            letters = await offload(
                self.pipeline.dead_letters.prune, now - self.dead_letter_retention
            )
        except StoreUnavailable as exc:
            log.warning("pruning history failed: %s", exc)
            return
        if removed or letters:
            log.info("pruned %d states and %d dead letters", removed, letters)

    async def _prune_files(self) -> None:
        """Delete local raw bodies and Parquet older than their retention."""
        if self.retention is None:
            return
        try:
            newest = await offload(self.pipeline.flights.newest_contact)
            bodies, files = await offload(self.retention.prune, datetime.now(UTC), newest)
        except (OSError, StoreUnavailable) as exc:
            log.warning("pruning local files failed: %s", exc)
            return
        if bodies or files:
            log.info("pruned %d raw bodies and %d Parquet files", bodies, files)

    def _maybe_health_check(self, report: CycleReport) -> None:
        if self.events is None or time.monotonic() - self._last_health < _HEALTH_EVERY_S:
            return
        self._last_health = time.monotonic()
        status = "degraded" if report.error else "ok"
        checks = {"last_cycle": report.error or "ok", "source": self.source.name}
        self.events.publish(SystemHealthCheck(status=status, checks=checks))

    async def recover(self) -> RerunSummary:
        """Finish what a crash cut short: the Parquet write in progress, then each body
        archived within ``recover_window`` of the newest cycle that no cycle names."""
        await self.flush_processed()
        if self.archive is None or self.cycles is None:
            return RerunSummary()
        try:
            summary = await offload(
                recover, self.archive, self.cycles, self.pipeline, window=self.recover_window
            )
        except (OSError, StoreUnavailable) as exc:
            log.error("recovering unprocessed bodies failed: %s", exc)
            return RerunSummary()
        if summary.bodies:
            log.info("recovered %s", summary)
            await self.flush_processed(force=False)
        return summary

    async def run_forever(self) -> None:
        try:
            await self.recover()
            while True:
                started = time.monotonic()
                await self.run_once()
                await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))
        finally:
            # Shielded so that a cancelled loop still writes what it buffered.
            await asyncio.shield(self.flush_processed())
