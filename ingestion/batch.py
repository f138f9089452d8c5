"""The values a normaliser hands to validation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.cycle import CycleReport


@dataclass(frozen=True, slots=True)
class Candidate:
    """A record mapped to the canonical field names, not yet validated; ``raw`` as received."""

    fields: dict[str, Any]
    raw: Any


@dataclass(frozen=True, slots=True)
class Reject:
    """A record that will not be stored. ``key`` names the state it was, when it was one,
    so the same state rejected in several cycles is one dead letter."""

    reason: str
    detail: str
    raw: Any
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Normalised:
    """A source's records mapped to the canonical layout.

    ``observed_at`` is when the source says its snapshot was taken; the age of each
    position is judged against it, so re-processing an old snapshot judges it the same.
    """

    candidates: list[Candidate]
    rejects: list[Reject]
    observed_at: datetime | None = None


__all__ = ["Candidate", "CycleReport", "Normalised", "Reject"]
