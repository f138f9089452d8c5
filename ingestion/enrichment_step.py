"""The pipeline's enrichment step: an ``Enricher`` wired to the stores.

It primes itself from the store on first use (the latest state of each aircraft and the
legs in flight), writes the enrichment into each state, and saves route legs: at once
when a leg starts or ends, and at most once a minute while it is in flight.

Holds the enricher's memory; called from the pipeline's thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from domain import FlightState
from domain.leg import Leg
from ingestion.enricher import Enricher, Enrichment
from storage.base import (
    AirportRepository,
    FlightFilter,
    FlightRepository,
    LegRepository,
    StoreUnavailable,
)

log = logging.getLogger(__name__)
SAVE_IN_FLIGHT_EVERY = timedelta(seconds=60)
FORGET_AFTER = timedelta(hours=6)


def _enriched(state: FlightState, e: Enrichment) -> FlightState:
    return FlightState.trusted(
        {
            **state.__dict__,
            "origin_country": e.origin_country,
            "region": e.region,
            "grid_cell": e.grid_cell,
            "phase": e.phase,
            "nearest_airport_icao": e.nearest_airport_icao,
            "nearest_airport_km": e.nearest_airport_km,
        }
    )


class EnrichmentStep:
    def __init__(
        self,
        flights: FlightRepository,
        airports: AirportRepository,
        legs: LegRepository,
        *,
        radius_km: float = 50.0,
    ) -> None:
        self._flights = flights
        self._airports = airports
        self._legs = legs
        self._enricher = Enricher(lambda points: airports.nearest(points, radius_km))
        self._primed = False
        self._saved: dict[tuple[str, datetime], datetime] = {}

    def _prime(self) -> None:
        self._primed = True
        since = datetime.now(UTC) - FORGET_AFTER
        try:
            legs = self._legs.in_flight(since)
            latest = self._flights.all_latest(FlightFilter(since=since))
        except StoreUnavailable as exc:
            log.warning("enrichment starts without history: %s", exc)
            return
        self._enricher.legs.load(legs, locate=self._airports.many_by_icao)
        self._enricher.prime(latest)
        log.info("enrichment resumed %d legs and %d aircraft", len(legs), len(latest))

    def __call__(self, states: Sequence[FlightState]) -> list[FlightState]:
        if not self._primed:
            self._prime()
        enrichments = self._enricher.enrich(states)
        self._save_legs([e.route for e in enrichments if e.route is not None])
        newest = max((s.time for s in states), default=datetime.now(UTC))
        self._enricher.prune(newest - FORGET_AFTER)
        return [_enriched(s, e) for s, e in zip(states, enrichments, strict=True)]

    def _save_legs(self, legs: list[Leg]) -> None:
        now = datetime.now(UTC)
        due = []
        for route in legs:
            key = (route.icao24, route.departed_at)
            last = self._saved.get(key)
            if route.arrived_at is not None or last is None or now - last >= SAVE_IN_FLIGHT_EVERY:
                due.append(route)
                if route.arrived_at is None:
                    self._saved[key] = now
                else:
                    self._saved.pop(key, None)
        if not due:
            return
        try:
            self._legs.put_legs(due)
        except StoreUnavailable as exc:
            # Legs are rebuilt from states; a missed save costs freshness, not data.
            log.warning("saving %d route legs failed: %s", len(due), exc)
        if len(self._saved) > 200_000:
            cutoff = now - FORGET_AFTER
            self._saved = {k: v for k, v in self._saved.items() if v >= cutoff}
