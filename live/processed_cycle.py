"""A FlightDataProcessed event as the functions that fan a cycle out read it (the
WebSocket fan-out and the AppSync publisher)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# The time ``ingestion.pipeline.new_cycle_id`` writes after the "@" of a cycle id.
_CYCLE_TIME = "%Y%m%dT%H%M%S.%fZ"


@dataclass(frozen=True, slots=True)
class Cycle:
    """What a fan-out needs of a FlightDataProcessed event."""

    cycle_id: str
    at: datetime
    published_at: datetime
    changed: Sequence[str]

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Cycle:
        """From the EventBridge envelope of a FlightDataProcessed event."""
        detail = event["detail"]
        published_at = datetime.fromisoformat(detail["at"])
        cycle_id = str(detail["cycle_id"])
        return cls(
            cycle_id=cycle_id,
            at=_started_at(cycle_id) or published_at,
            published_at=published_at,
            changed=[str(code) for code in detail.get("changed", [])],
        )


def _started_at(cycle_id: str) -> datetime | None:
    """The start time the cycle id carries, if it does."""
    try:
        return datetime.strptime(cycle_id.rpartition("@")[2], _CYCLE_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None
