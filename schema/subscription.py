"""The root ``Subscription``: live updates pushed over WebSocket, one batch per cycle."""

from __future__ import annotations

import strawberry

from resolvers import subscriptions as subscription_resolvers
from schema.live import FlightUpdateBatch
from schema.track import TrackPoint


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
