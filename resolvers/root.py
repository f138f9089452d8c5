"""The root ``Query`` and ``Subscription``: every entry point with its resolver, and the
schema built from them."""

from __future__ import annotations

import strawberry

from resolvers import airports as airport_resolvers
from resolvers import analytics as analytics_resolvers
from resolvers import flights as flight_resolvers
from resolvers import pipeline as pipeline_resolvers
from resolvers import subscriptions as subscription_resolvers
from schema import FlightSchema, assemble
from schema.airport import Airport, AirportConnection
from schema.analytics import Analytics
from schema.flight import Flight, FlightConnection
from schema.live import FlightUpdateBatch
from schema.pipeline import DeadLetterConnection, PipelineStatus
from schema.track import Track, TrackPoint
from security.limits import QueryLimits


@strawberry.type
class Query:
    flights: FlightConnection = strawberry.field(resolver=flight_resolvers.flights)
    flight: Flight | None = strawberry.field(resolver=flight_resolvers.flight)
    track: Track | None = strawberry.field(resolver=flight_resolvers.track)
    airport: Airport | None = strawberry.field(resolver=airport_resolvers.airport)
    airports: AirportConnection = strawberry.field(resolver=airport_resolvers.airports)
    pipeline_status: PipelineStatus = strawberry.field(resolver=pipeline_resolvers.pipeline_status)
    dead_letters: DeadLetterConnection = strawberry.field(resolver=pipeline_resolvers.dead_letters)
    analytics: Analytics = strawberry.field(resolver=analytics_resolvers.analytics)


@strawberry.type
class Subscription:
    # The resolvers are async generators; Strawberry yields their items as the field type,
    # which its mypy plugin does not model for subscriptions.
    flight_updates: FlightUpdateBatch = strawberry.subscription(  # type: ignore[assignment]
        resolver=subscription_resolvers.flight_updates,
        description="The flights inside a box and/or a list of aircraft, one batch per cycle.",
    )
    track_updates: TrackPoint = strawberry.subscription(  # type: ignore[assignment]
        resolver=subscription_resolvers.track_updates,
        description="Each new position of one aircraft, starting with its latest.",
    )


def build_schema(limits: QueryLimits | None = None) -> FlightSchema:
    """The service's schema, with ``limits`` on every operation (default: ``QueryLimits()``)."""
    return assemble(Query, Subscription, limits)
