"""The root ``Query``: every entry point, its resolver in ``resolvers/``."""

from __future__ import annotations

import strawberry

from resolvers import airports as airport_resolvers
from resolvers import analytics as analytics_resolvers
from resolvers import flights as flight_resolvers
from resolvers import pipeline as pipeline_resolvers
from schema.airport import Airport, AirportConnection
from schema.analytics import Analytics
from schema.flight import Flight, FlightConnection
from schema.pipeline import DeadLetterConnection, PipelineStatus
from schema.track import Track


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
