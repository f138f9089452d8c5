"""One cycle of the pipeline: normalise → validate → de-duplicate → enrich → store → publish.

Every record that comes in is accounted for: stored, a duplicate of a stored state, or a
dead letter with its reason (``CycleReport.balanced``). A cycle's states, its dead letters,
the states it stages for Parquet and its report are written in one unit of work: one
transaction on the embedded store, so a crash leaves all of them or none; in that order on
DynamoDB, where every write is idempotent, so a cycle cut short is safely done again (a
body with no report is processed again at the next start, ``IngestLoop.recover``).
Store failures retry the whole unit with exponential backoff and jitter; when the retries
run out the cycle's states become dead letters with reason ``store_failed``, so nothing is
dropped silently.

Holds the last stored position of each aircraft (for the jump check); call ``process``
from one thread at a time.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from domain import FlightState
from domain.cycle import CycleReport
from domain.events import DataQualityAlert, EventBus, FlightDataProcessed
from domain.geo import haversine_km
from ingestion.batch import Normalised, Reject
from ingestion.errors import UpstreamError
from ingestion.validate import Rules, state_key, validate_with_raw
from storage.base import (
    CycleRepository,
    DeadLetter,
    DeadLetterRepository,
    FlightFilter,
    FlightRepository,
    PutResult,
    StoreUnavailable,
    UnitOfWork,
)

if TYPE_CHECKING:
    # pyarrow, which it writes with, is not shipped with the API.
    from storage.processed import ProcessedWriter

# Called once per processed cycle with the states it stored (live subscriptions).
StoredHook = Callable[[CycleReport, Sequence[FlightState]], None]

log = logging.getLogger(__name__)

Normaliser = Callable[[Any], Normalised]
# Faster than anything that flies (Mach 3 is about 1,000 m/s); over short hops position
# noise dominates, so jumps under the minimum distance are never judged.
MAX_SPEED_MPS = 1_000.0
MIN_JUMP_KM = 5.0


def new_cycle_id(source: str, at: datetime) -> str:
    return f"{source}@{at.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    initial_wait_s: float = 0.5
    max_wait_s: float = 8.0

    def retrying(self, *errors: type[BaseException]) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(multiplier=self.initial_wait_s, max=self.max_wait_s),
            # Errors a store has retried already are not retried again: one retry layer.
            retry=retry_if_exception(
                lambda exc: isinstance(exc, errors) and getattr(exc, "retryable", True)
            ),
            reraise=True,
        )


@dataclass
class _Cycle:
    source: str
    cycle_id: str
    observed_at: datetime | None
    keep: bool = True
    repeats: int = 0
    # States first stored by this cycle, by key, over all its attempts.
    new: dict[tuple[str, datetime], FlightState] = field(default_factory=dict)


class Pipeline:
    def __init__(
        self,
        flights: FlightRepository,
        dead_letters: DeadLetterRepository,
        rules: Rules | None = None,
        *,
        events: EventBus | None = None,
        enrich: Callable[[Sequence[FlightState]], list[FlightState]] | None = None,
        alert_threshold: float = 0.10,
        retry: RetryPolicy | None = None,
        processed: ProcessedWriter | None = None,
        on_stored: StoredHook | None = None,
        cycles: CycleRepository | None = None,
        unit_of_work: UnitOfWork = nullcontext,
    ) -> None:
        self.flights = flights
        self.dead_letters = dead_letters
        self.rules = rules or Rules()
        self.events = events
        self.enrich = enrich
        self.alert_threshold = alert_threshold
        self.retry = retry or RetryPolicy()
        self.processed = processed
        self.on_stored = on_stored
        self.cycles = cycles
        self.unit_of_work = unit_of_work
        self._last_fix: dict[str, tuple[float, float, float]] | None = None

    def process(
        self,
        source: str,
        payload: Any,
        normalise: Normaliser,
        *,
        cycle_id: str = "",
        archive_key: str | None = None,
        started_at: datetime | None = None,
        dead_letter: bool = True,
    ) -> CycleReport:
        """Run one parsed payload through the pipeline.

        With ``dead_letter=False`` rejects are counted in the report but not stored (a
        retry of a record that is already a dead letter). With a ``cycle_id`` and a
        ``CycleRepository`` the report is recorded with the cycle's writes, unless they
        failed (``report.error``): then the cycle is to be done again.
        """
        report = CycleReport(
            source=source,
            started_at=started_at or datetime.now(UTC),
            cycle_id=cycle_id,
            archive_key=archive_key,
        )
        try:
            normalised = normalise(payload)
        except UpstreamError as exc:
            excerpt = {"archive_key": archive_key, "error": str(exc)}
            report.received = 1
            invalid = [Reject("invalid_payload", str(exc), excerpt)]
            self._commit(_Cycle(source, cycle_id, None, keep=dead_letter), [], {}, invalid, report)
            return self._finish(report)
        cycle = _Cycle(source, cycle_id, normalised.observed_at, keep=dead_letter)
        report.received = len(normalised.candidates) + len(normalised.rejects)
        states, raws, rejects = validate_with_raw(
            normalised.candidates, observed_at=normalised.observed_at, rules=self.rules
        )
        raw_of = {id(s): raw for s, raw in zip(states, raws, strict=True)}
        states, jumps = self._check_jumps(states, raw_of)
        unique, cycle.repeats = _dedupe(states)
        if self.enrich is not None and unique:
            enriched = self.enrich(unique)
            raw_of.update({id(e): raw_of[id(s)] for e, s in zip(enriched, unique, strict=True)})
            unique = enriched
        stored = self._commit(
            cycle, unique, raw_of, [*normalised.rejects, *rejects, *jumps], report
        )
        self._stored(report, stored)
        return self._finish(report)

    def _stored(self, report: CycleReport, states: Sequence[FlightState]) -> None:
        """Hand the cycle's stored states to ``on_stored`` (live subscribers), every cycle,
        even with none: subscribers learn of aircraft that went stale from it too."""
        if self.on_stored is None:
            return
        try:
            self.on_stored(report, states)
        except Exception:  # live updates are best effort; the cycle itself succeeded
            log.exception("publishing cycle %s to subscribers failed", report.cycle_id)

    def _finish(self, report: CycleReport) -> CycleReport:
        report.finished_at = report.finished_at or datetime.now(UTC)
        if self.events is not None:
            self._publish(report)
        return report

    def _commit(
        self,
        cycle: _Cycle,
        states: list[FlightState],
        raw_of: dict[int, Any],
        rejects: list[Reject],
        report: CycleReport,
    ) -> list[FlightState]:
        """Write the cycle as one unit of work, retried whole; if the states cannot be
        stored, write them as ``store_failed`` dead letters instead. Returns the states
        stored (none when they failed)."""
        retrying = self.retry.retrying(StoreUnavailable)
        try:
            retrying(self._write, cycle, states, rejects, report)
        except StoreUnavailable as exc:
            if not states:
                return self._failed(report, exc)
            log.error("storing %d states failed after retries: %s", len(states), exc)
            failed = [Reject("store_failed", str(exc), raw_of[id(s)], state_key(s)) for s in states]
            cycle.new.clear()
            try:
                retrying(self._write, cycle, [], [*rejects, *failed], report)
            except StoreUnavailable as again:
                self._failed(report, again)
            return []
        self._remember(states)
        report.changed = [s.icao24 for s in states]
        if self.processed is not None and not self.processed.durable:
            self.processed.add(list(cycle.new.values()))
        return states

    def _write(
        self, cycle: _Cycle, states: list[FlightState], rejects: list[Reject], report: CycleReport
    ) -> None:
        with self.unit_of_work():
            report.stored, report.duplicates = 0, cycle.repeats
            if states:
                result: PutResult = self.flights.put_states(states)
                report.stored = result.stored
                report.duplicates += result.duplicates
                new = states if result.new is None else result.new
                if self.processed is not None and self.processed.durable:
                    self.processed.add(new)
                cycle.new.update(((s.icao24, s.time), s) for s in new)
            self._dead_letter(cycle, rejects, report)
            if self.cycles is not None and cycle.cycle_id and cycle.keep:
                report.finished_at = datetime.now(UTC)
                self.cycles.put_cycle(report)

    def _failed(self, report: CycleReport, exc: StoreUnavailable) -> list[FlightState]:
        # Nothing of the cycle is recorded: its archived body is processed again later.
        log.error("cycle %s could not be stored: %s", report.cycle_id, exc)
        report.error = f"store unavailable: {exc}"
        return []

    def _dead_letter(self, cycle: _Cycle, rejects: list[Reject], report: CycleReport) -> None:
        report.rejected = len(rejects)
        report.reasons = Counter(r.reason for r in rejects)
        if not rejects or not cycle.keep:
            return
        now = datetime.now(UTC)
        attempts = self.retry.attempts
        letters = [
            DeadLetter(
                reason=r.reason,
                detail=r.detail,
                source=cycle.source,
                raw=r.raw,
                received_at=now,
                attempts=attempts if r.reason == "store_failed" else 1,
                cycle_id=cycle.cycle_id or None,
                observed_at=cycle.observed_at,
                key=r.key,
            )
            for r in rejects
        ]
        self.dead_letters.add(letters)

    def _check_jumps(
        self, states: list[FlightState], raw_of: dict[int, Any]
    ) -> tuple[list[FlightState], list[Reject]]:
        last = self._last_positions()
        kept: list[FlightState] = []
        rejects: list[Reject] = []
        for state in states:
            before = last.get(state.icao24)
            if before is None or state.latitude is None or state.longitude is None:
                kept.append(state)
                continue
            then, lat, lon = before
            dt = state.time.timestamp() - then
            distance_km = haversine_km(lat, lon, state.latitude, state.longitude)
            if dt > 0 and distance_km > MIN_JUMP_KM and distance_km * 1000 / dt > MAX_SPEED_MPS:
                speed = distance_km * 1000 / dt
                detail = f"moved {distance_km:.1f} km in {dt:.0f} s ({speed:.0f} m/s)"
                rejects.append(
                    Reject("impossible_jump", detail, raw_of[id(state)], state_key(state))
                )
            else:
                kept.append(state)
        return kept, rejects

    def _last_positions(self) -> dict[str, tuple[float, float, float]]:
        if self._last_fix is None:
            self._last_fix = {}
            self._remember(self.flights.all_latest(FlightFilter()))
        return self._last_fix

    def _remember(self, states: Sequence[FlightState]) -> None:
        if self._last_fix is None:
            return
        for s in states:
            if s.latitude is not None and s.longitude is not None:
                known = self._last_fix.get(s.icao24)
                t = s.time.timestamp()
                if known is None or known[0] <= t:
                    self._last_fix[s.icao24] = (t, s.latitude, s.longitude)

    def _publish(self, report: CycleReport) -> None:
        assert self.events is not None
        self.events.publish(
            FlightDataProcessed(
                source=report.source,
                cycle_id=report.cycle_id,
                received=report.received,
                stored=report.stored,
                rejected=report.rejected,
                duplicates=report.duplicates,
                changed=report.changed,
            )
        )
        if report.received and report.reject_rate > self.alert_threshold:
            self.events.publish(
                DataQualityAlert(
                    source=report.source,
                    cycle_id=report.cycle_id,
                    reject_rate=round(report.reject_rate, 4),
                    threshold=self.alert_threshold,
                    reasons=dict(report.reasons),
                )
            )


def _dedupe(states: list[FlightState]) -> tuple[list[FlightState], int]:
    """States with a distinct ``(icao24, time)``, and how many repeats were dropped."""
    seen: dict[tuple[str, datetime], FlightState] = {}
    for state in states:
        seen.setdefault((state.icao24, state.time), state)
    return list(seen.values()), len(states) - len(seen)
