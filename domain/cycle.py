"""An ingest cycle: what one fetch of one source became."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class CycleReport:
    """What one ingest cycle did. ``received == stored + rejected + duplicates``.

    ``error`` is set when the cycle could not complete (the source failed after its
    retries); ``reasons`` counts the rejects by reason code.
    """

    source: str
    started_at: datetime
    cycle_id: str = ""
    finished_at: datetime | None = None
    received: int = 0
    stored: int = 0
    rejected: int = 0
    duplicates: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    archive_key: str | None = None
    changed: list[str] = field(default_factory=list, repr=False)

    @property
    def balanced(self) -> bool:
        return self.received == self.stored + self.rejected + self.duplicates

    @property
    def reject_rate(self) -> float:
        return self.rejected / self.received if self.received else 0.0
