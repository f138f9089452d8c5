"""Live update types: what a subscription yields."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import strawberry

from schema.flight import Flight


@strawberry.type(description="What changed inside a subscription's filter in one ingest cycle.")
class FlightUpdateBatch:
    cycle_id: str = strawberry.field(description="The ingest cycle; empty before the first one")
    at: datetime = strawberry.field(description="When the cycle started")
    published_at: datetime = strawberry.field(
        description="When the cycle's states were stored and published to subscribers"
    )
    # A sequence: a box selection's flights are runs of rows (``live.filtering.Sliced``).
    flights: Sequence[Flight] = strawberry.field(
        description="States that changed inside the filter (on subscribe: all current ones)"
    )
    removed: list[str] = strawberry.field(
        description="icao24 of aircraft that left the filter or went stale"
    )
    dropped_batches: int = strawberry.field(
        description="Batches dropped before this one because the client fell behind"
    )
    snapshot: bool = strawberry.field(
        description="This batch is the full current state (on subscribe or after a gap)"
    )
