"""The pipeline's enrichment step: enriched states, saved legs, and a resume after restart."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain import FlightPhase, FlightState
from domain.geo import REGIONS
from ingestion.enrichment_step import EnrichmentStep
from ingestion.replay import ReplaySource
from ingestion.validate import validate
from storage.stores import Stores
from testkit import SteppedClock


def snapshot_states(source: ReplaySource) -> list[FlightState]:
    normalised = source.normalise(source.advance())
    states, _ = validate(normalised.candidates, observed_at=normalised.observed_at)
    return states


class CountingLegs:
    """Wraps a real route repository and counts the legs each put saves."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.saved: list[int] = []

    def put_legs(self, routes: Any) -> None:
        self.saved.append(len(routes))
        self.inner.put_legs(routes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_every_state_is_enriched(seeded_stores: Stores) -> None:
    step = EnrichmentStep(seeded_stores.flights, seeded_stores.airports, seeded_stores.legs)
    states = snapshot_states(ReplaySource())

    enriched = step(states)

    assert len(enriched) == len(states)
    assert all(e.region in {*REGIONS, "unknown"} for e in enriched)
    assert all(e.phase is not None for e in enriched)
    assert all(e.grid_cell for e in enriched if e.has_position)
    on_ground = [e for e in enriched if e.on_ground]
    assert on_ground
    assert all(e.phase is FlightPhase.GROUND for e in on_ground)
    near = [e for e in enriched if e.nearest_airport_icao]
    assert near
    assert all(e.nearest_airport_km is not None and e.nearest_airport_km <= 50 for e in near)
    # Enrichment adds; it changes nothing the source said.
    for before, after in zip(states, enriched, strict=True):
        assert after.model_dump(include={"icao24", "time_position", "latitude", "callsign"}) == (
            before.model_dump(include={"icao24", "time_position", "latitude", "callsign"})
        )


def test_missing_origin_country_comes_from_the_address_block(seeded_stores: Stores) -> None:
    step = EnrichmentStep(seeded_stores.flights, seeded_stores.airports, seeded_stores.legs)
    state = snapshot_states(ReplaySource())[0]
    anonymous = state.model_copy(update={"icao24": "4ca7b5", "origin_country": None})

    [enriched] = step([anonymous])

    assert enriched.origin_country == "Ireland"


def test_legs_in_flight_are_saved_at_most_once_a_minute(seeded_stores: Stores) -> None:
    routes = CountingLegs(seeded_stores.legs)
    step = EnrichmentStep(seeded_stores.flights, seeded_stores.airports, routes)
    now = ReplaySource().advance()["time"]
    source = ReplaySource(clock=SteppedClock(now, now + 10))

    step(snapshot_states(source))
    step(snapshot_states(source))

    # The first cycle saves every leg; ten seconds later only legs that began or ended.
    assert routes.saved[0] > 5000
    assert sum(routes.saved[1:]) < 50


def test_a_restarted_step_resumes_the_legs(seeded_stores: Stores) -> None:
    source = ReplaySource()
    states = snapshot_states(source)
    seeded_stores.flights.put_states(
        EnrichmentStep(seeded_stores.flights, seeded_stores.airports, seeded_stores.legs)(states)
    )
    before = seeded_stores.legs.current([s.icao24 for s in states])

    again = EnrichmentStep(seeded_stores.flights, seeded_stores.airports, seeded_stores.legs)
    later = [s.model_copy(update={"time_position": s.time + timedelta(seconds=10)}) for s in states]
    again(later)
    after = seeded_stores.legs.current([s.icao24 for s in states])

    assert before
    assert {code: r.departed_at for code, r in before.items()} == {
        code: r.departed_at for code, r in after.items() if code in before
    }
