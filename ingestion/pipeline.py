"""The pipeline of one cycle: normalise → validate → de-duplicate → store.

Every record that comes in is accounted for: stored, a duplicate of a stored state, or a
dead letter with its reason (``CycleReport.balanced``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from domain import FlightState
from ingestion.batch import CycleReport, Normalised, Reject
from ingestion.validate import Rules, validate
from storage.base import DeadLetter, DeadLetterRepository, FlightRepository

Normaliser = Callable[[Any], Normalised]


class Pipeline:
    """Stateless apart from its repositories; safe to call from one thread at a time."""

    def __init__(
        self,
        flights: FlightRepository,
        dead_letters: DeadLetterRepository,
        rules: Rules | None = None,
    ) -> None:
        self.flights = flights
        self.dead_letters = dead_letters
        self.rules = rules or Rules()

    def process(self, source: str, payload: Any, normalise: Normaliser) -> CycleReport:
        report = CycleReport(source=source, started_at=datetime.now(UTC))
        normalised = normalise(payload)
        states, rejects = validate(
            normalised.candidates, observed_at=normalised.observed_at, rules=self.rules
        )
        rejects = normalised.rejects + rejects
        unique, in_batch_duplicates = _dedupe(states)
        report.received = len(normalised.candidates) + len(normalised.rejects)
        if unique:
            result = self.flights.put_states(unique)
            report.stored = result.stored
            report.duplicates = result.duplicates + in_batch_duplicates
        else:
            report.duplicates = in_batch_duplicates
        self._dead_letter(source, rejects, report)
        report.finished_at = datetime.now(UTC)
        return report

    def _dead_letter(self, source: str, rejects: list[Reject], report: CycleReport) -> None:
        report.rejected = len(rejects)
        if not rejects:
            return
        now = datetime.now(UTC)
        self.dead_letters.add([DeadLetter(r.reason, r.detail, source, r.raw, now) for r in rejects])
        report.reasons.update(r.reason for r in rejects)


def _dedupe(states: list[FlightState]) -> tuple[list[FlightState], int]:
    """States with a distinct ``(icao24, time)``, and how many repeats were dropped."""
    seen: dict[tuple[str, datetime], FlightState] = {}
    for state in states:
        seen.setdefault((state.icao24, state.time), state)
    return list(seen.values()), len(states) - len(seen)
