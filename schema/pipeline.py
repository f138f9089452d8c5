"""Types that show the ingest pipeline at work: cycles and dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from domain.cycle import CycleReport
from schema import arguments
from schema.pagination import PageInfo
from storage.base import DeadLetter as DeadLetterRecord
from storage.base import Page

# The most cycles ``cycles(last:)`` lists; the resolver reads this many reports.
MAX_CYCLES = 1000


@strawberry.type
class ReasonCount:
    reason: str
    count: int


def reason_counts(counts: dict[str, int]) -> list[ReasonCount]:
    return [ReasonCount(reason=r, count=n) for r, n in sorted(counts.items())]


@strawberry.type(description="One fetch of one source, and what became of its records.")
class Cycle:
    cycle_id: str
    source: str
    started_at: datetime
    finished_at: datetime | None
    received: int
    stored: int
    rejected: int
    duplicates: int
    rejected_by_reason: list[ReasonCount]
    error: str | None
    archive_key: str | None = strawberry.field(description="Where the raw body is archived")

    @classmethod
    def from_report(cls, r: CycleReport) -> Cycle:
        return cls(
            cycle_id=r.cycle_id,
            source=r.source,
            started_at=r.started_at,
            finished_at=r.finished_at,
            received=r.received,
            stored=r.stored,
            rejected=r.rejected,
            duplicates=r.duplicates,
            rejected_by_reason=reason_counts(dict(r.reasons)),
            error=r.error,
            archive_key=r.archive_key,
        )


@strawberry.type(description="A record that was not stored, with why, as it was received.")
class DeadLetter:
    id: str
    reason: str
    detail: str
    source: str
    raw: JSON
    received_at: datetime
    observed_at: datetime | None
    attempts: int
    cycle_id: str | None

    @classmethod
    def from_record(cls, d: DeadLetterRecord) -> DeadLetter:
        return cls(
            id=d.id or "",
            reason=d.reason,
            detail=d.detail,
            source=d.source,
            raw=cast(JSON, d.raw),
            received_at=d.received_at,
            observed_at=d.observed_at,
            attempts=d.attempts,
            cycle_id=d.cycle_id,
        )


@strawberry.type
class DeadLetterEdge:
    cursor: str
    node: DeadLetter


@strawberry.type
class DeadLetterConnection:
    total_count: int
    nodes: list[DeadLetter]
    page_info: PageInfo
    cursors: strawberry.Private[list[str]]

    @strawberry.field
    def edges(self) -> list[DeadLetterEdge]:
        pairs = zip(self.cursors, self.nodes, strict=True)
        return [DeadLetterEdge(cursor=c, node=n) for c, n in pairs]

    @classmethod
    def from_page(cls, page: Page[DeadLetterRecord]) -> DeadLetterConnection:
        return cls(
            total_count=page.total_count,
            nodes=[DeadLetter.from_record(d) for d in page.items],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            cursors=page.cursors,
        )


@strawberry.type(description="The ingest pipeline's recent cycles and its dead letters.")
class PipelineStatus:
    dead_letter_count: int
    dead_letters_by_reason: list[ReasonCount]
    cycle_reports: strawberry.Private[list[CycleReport]]

    @strawberry.field(description="The most recent cycles, newest first.")
    def cycles(self, last: int = 10) -> list[Cycle]:
        arguments.count("last", last, MAX_CYCLES)
        return [Cycle.from_report(r) for r in self.cycle_reports[:last]]
