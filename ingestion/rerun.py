"""Running records through the pipeline again: archived bodies and dead letters.

``reprocess`` re-reads raw bodies from the archive; states already stored count as
duplicates and are not written to Parquet again, so re-running a period is safe. It records
no cycles. ``recover`` processes the archived bodies that no cycle report names (a crash
came between archiving and committing the cycle) and records a cycle for each.
``redrive`` retries dead letters one by one and removes each that now stores; one that fails
again keeps its place with one more attempt and the reason it failed this time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson

from domain import Source
from domain.cycle import CycleReport
from ingestion.adsbx import normalise_v2
from ingestion.batch import Normalised
from ingestion.detect import detect_layout
from ingestion.errors import UpstreamError
from ingestion.opensky import normalise_states
from ingestion.pipeline import Pipeline, new_cycle_id
from ingestion.receiver import normalise_aircraft_json
from storage.archive import RawArchive
from storage.base import CycleRepository, DeadLetter, DeadLetterRepository

log = logging.getLogger(__name__)

_SOURCE_OF_NAME = {
    "replay": Source.REPLAY,
    "opensky": Source.OPENSKY,
    "adsbx": Source.ADSBX,
    "receiver": Source.RECEIVER,
}
_NORMALISER_OF_LAYOUT: dict[str, Callable[..., Normalised]] = {
    "opensky": normalise_states,
    "v2": normalise_v2,
    "aircraft_json": normalise_aircraft_json,
}
_DEFAULT_SOURCE = {"opensky": Source.OPENSKY, "v2": Source.ADSBX, "aircraft_json": Source.RECEIVER}


def normaliser_for(source_name: str, payload: Any) -> Callable[[Any], Normalised]:
    """The normaliser of ``payload``'s layout, stamping the ``Source`` its name implies."""
    layout = detect_layout(payload)
    source = _SOURCE_OF_NAME.get(source_name.split(":", 1)[0], _DEFAULT_SOURCE[layout])
    return partial(_NORMALISER_OF_LAYOUT[layout], source=source)


@dataclass
class RerunSummary:
    bodies: int = 0
    failed: list[str] = field(default_factory=list)
    received: int = 0
    stored: int = 0
    rejected: int = 0
    duplicates: int = 0

    def add(self, report: CycleReport) -> None:
        self.received += report.received
        self.stored += report.stored
        self.rejected += report.rejected
        self.duplicates += report.duplicates

    def __str__(self) -> str:
        text = (
            f"{self.bodies} bodies: received {self.received}, stored {self.stored}, "
            f"rejected {self.rejected}, duplicates {self.duplicates}"
        )
        if self.failed:
            text += f"; {len(self.failed)} could not be read: {', '.join(self.failed[:5])}"
        return text


def reprocess(
    archive: RawArchive, pipeline: Pipeline, start: datetime, end: datetime
) -> RerunSummary:
    """Run every body archived in ``[start, end]`` through ``pipeline`` again."""
    return _run(archive, pipeline, archive.keys(start, end), record=None)


# How many recent cycles ``recover`` reads for the bodies they name.
_RECOVER_SCAN = 2_000


def unrecorded(
    archive: RawArchive, cycles: CycleRepository, *, window: timedelta, now: datetime
) -> list[str]:
    """Keys of the bodies archived up to ``now`` that no recorded cycle names, oldest
    first: those received within ``window`` before the newest cycle (before ``now`` when
    there is none), and after the oldest of the cycles read."""
    recent = cycles.recent_cycles(_RECOVER_SCAN)
    start = (recent[0].started_at if recent else now) - window
    if len(recent) == _RECOVER_SCAN:
        start = max(start, recent[-1].started_at)
    named = {c.archive_key for c in recent}
    return [key for key in archive.keys(start, now) if key not in named]


def recover(
    archive: RawArchive,
    cycles: CycleRepository,
    pipeline: Pipeline,
    *,
    window: timedelta,
    now: datetime | None = None,
) -> RerunSummary:
    """Process the bodies ``unrecorded`` lists, each as the cycle it was to be."""
    keys = unrecorded(archive, cycles, window=window, now=now or datetime.now(UTC))
    return _run(archive, pipeline, keys, record=cycles)


def _run(
    archive: RawArchive, pipeline: Pipeline, keys: list[str], record: CycleRepository | None
) -> RerunSummary:
    summary = RerunSummary()
    for key in keys:
        summary.bodies += 1
        try:
            body = archive.get(key)
            payload = orjson.loads(body.body)
            normalise = normaliser_for(body.source, payload)
        except (OSError, orjson.JSONDecodeError, UpstreamError, KeyError) as exc:
            log.warning("cannot reprocess %s: %s", key, exc)
            summary.failed.append(key)
            continue
        cycle_id = "" if record is None else new_cycle_id(body.source, body.received_at)
        report = pipeline.process(
            body.source,
            payload,
            normalise,
            cycle_id=cycle_id,
            archive_key=key,
            started_at=body.received_at if record is not None else None,
        )
        if record is not None and pipeline.cycles is None:
            record.put_cycle(report)
        summary.add(report)
    return summary


@dataclass
class RedriveSummary:
    stored: int = 0
    failed_again: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        again = sum(self.failed_again.values())
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(self.failed_again.items()))
        return f"redriven: {self.stored} stored, {again} failed again" + (
            f" ({reasons})" if reasons else ""
        )


def _single_payload(letter: DeadLetter) -> Any:
    """A one-record payload in the layout the letter's raw record came in."""
    observed = letter.observed_at or letter.received_at
    if isinstance(letter.raw, list):
        return {"time": int(observed.timestamp()), "states": [letter.raw]}
    if isinstance(letter.raw, dict) and "hex" in letter.raw:
        return {"now": observed.timestamp(), "aircraft": [letter.raw]}
    raise UpstreamError("no single record to retry: the whole payload was rejected")


def redrive(
    letters: list[DeadLetter],
    pipeline: Pipeline,
    dead_letters: DeadLetterRepository,
    archive: RawArchive | None = None,
) -> RedriveSummary:
    """Retry ``letters``; those that store are removed from the dead-letter store."""
    summary = RedriveSummary()
    for letter in letters:
        assert letter.id is not None
        try:
            report = _redrive_one(letter, pipeline, archive)
        except (UpstreamError, OSError, orjson.JSONDecodeError, KeyError) as exc:
            dead_letters.retried([letter.id], letter.reason, f"{letter.detail}; retry: {exc}")
            summary.failed_again[letter.reason] = summary.failed_again.get(letter.reason, 0) + 1
            continue
        if report.rejected == 0:
            dead_letters.remove([letter.id])
            summary.stored += report.stored + report.duplicates
        else:
            reason = next(iter(report.reasons), letter.reason)
            dead_letters.retried([letter.id], reason, f"retried: {reason}")
            summary.failed_again[reason] = summary.failed_again.get(reason, 0) + 1
    return summary


def _redrive_one(letter: DeadLetter, pipeline: Pipeline, archive: RawArchive | None) -> CycleReport:
    if isinstance(letter.raw, dict) and "archive_key" in letter.raw:
        if archive is None or not letter.raw["archive_key"]:
            raise UpstreamError("the body was not archived")
        body = archive.get(str(letter.raw["archive_key"]))
        payload = orjson.loads(body.body)
    else:
        payload = _single_payload(letter)
    normalise = normaliser_for(letter.source, payload)
    return pipeline.process(letter.source, payload, normalise, dead_letter=False)
