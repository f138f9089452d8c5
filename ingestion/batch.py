"""The values a source hands to the pipeline, and what one cycle of the pipeline did."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Candidate:
    """A record mapped to the canonical field names, not yet validated; ``raw`` as received."""

    fields: dict[str, Any]
    raw: Any


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str
    detail: str
    raw: Any


@dataclass(frozen=True, slots=True)
class Normalised:
    """A source's records mapped to the canonical layout.

    ``observed_at`` is when the source says its snapshot was taken; the age of each
    position is judged against it, so re-processing an old snapshot judges it the same.
    """

    candidates: list[Candidate]
    rejects: list[Reject]
    observed_at: datetime | None = None


@dataclass(slots=True)
class CycleReport:
    """What one ingest cycle did. ``received == stored + rejected + duplicates``."""

    source: str
    started_at: datetime
    finished_at: datetime | None = None
    received: int = 0
    stored: int = 0
    rejected: int = 0
    duplicates: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    error: str | None = None

    @property
    def balanced(self) -> bool:
        return self.received == self.stored + self.rejected + self.duplicates
