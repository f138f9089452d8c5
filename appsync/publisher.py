"""The publication of each ingest cycle to AppSync's real-time engine.

For each FlightDataProcessed event (its detail names the aircraft stored that cycle,
``changed``) the cycle's states are read back once and grouped by tile
(``appsync.tiles``); each tile with changes is one ``publishFlightUpdates(tile:, batch:)``
mutation per ``MAX_BATCH`` aircraft, authorised with IAM. AppSync then delivers each batch
to every ``flightUpdates`` subscription whose filter takes the tile: the fan-out is
AppSync's.

A batch is the ``FlightUpdateBatch`` the ASGI server sends, serialised by the same
Strawberry types: every scalar field of each ``Flight`` (the mutation selects them all, and
AppSync delivers only what the mutation selected). Nested objects (a flight's
``nearestAirport``, ``route``, ``track``) are not published: a subscriber asks the query
API for them. ``removed`` is empty and ``snapshot`` false: a subscriber starts from a
``flights`` query and drops aircraft whose ``lastContact`` grows old.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
import strawberry
from graphql import GraphQLObjectType, get_named_type, is_leaf_type

from appsync.tiles import tile_of
from domain import FlightState
from live.processed_cycle import Cycle
from schema.flight import Flight
from schema.live import FlightUpdateBatch
from storage.stores import Stores

log = logging.getLogger(__name__)

# Posts one GraphQL operation (query, variables) and returns its ``data``.
Post = Callable[[str, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]

_CONCURRENT_POSTS = 16
# Aircraft per publication: about 490 bytes each with every leaf field, so 300 keep a
# batch near 150 KB, under AppSync's 240 KB limit on a subscription message.
MAX_BATCH = 300


@strawberry.type
class _Publication:
    @strawberry.field
    def batch(self, root: strawberry.Parent[FlightUpdateBatch]) -> FlightUpdateBatch:
        return root


_SERIALISER = strawberry.Schema(query=_Publication)


def _selection(kind: GraphQLObjectType) -> str:
    """Every leaf field of ``kind``, and of its ``flights``."""
    fields = []
    for name, field in kind.fields.items():
        named = get_named_type(field.type)
        if is_leaf_type(named):
            fields.append(name)
        elif name == "flights" and isinstance(named, GraphQLObjectType):
            fields.append(f"flights {_selection(named)}")
    return "{ " + " ".join(fields) + " }"


def _batch_type() -> GraphQLObjectType:
    kind = _SERIALISER._schema.get_type("FlightUpdateBatch")
    assert isinstance(kind, GraphQLObjectType)
    return kind


BATCH_SELECTION = _selection(_batch_type())
_SERIALISE = f"{{ batch {BATCH_SELECTION} }}"
PUBLISH_FLIGHTS = (
    "mutation PublishFlightUpdates($tile: String!, $batch: AWSJSON!) { "
    f"publishFlightUpdates(tile: $tile, batch: $batch) {BATCH_SELECTION[:-1]}tile }} }}"
)


def serialise(batch: FlightUpdateBatch) -> dict[str, Any]:
    """``batch`` as the ASGI server's subscriptions send it (every leaf field)."""
    result = _SERIALISER.execute_sync(_SERIALISE, root_value=batch)
    if result.errors:
        raise result.errors[0]
    assert result.data is not None
    return dict(result.data["batch"])


def by_tile(states: Sequence[FlightState]) -> dict[str, list[FlightState]]:
    """The states with a position, per tile, in the order given."""
    tiles: dict[str, list[FlightState]] = defaultdict(list)
    for state in states:
        if state.latitude is not None and state.longitude is not None:
            tiles[tile_of(state.latitude, state.longitude)].append(state)
    return dict(tiles)


class Publisher:
    """Publishes cycles from ``stores`` with ``post`` (an IAM-signed AppSync client)."""

    def __init__(self, stores: Stores, post: Post) -> None:
        self.stores = stores
        self.post = post

    async def publish(self, cycle: Cycle) -> dict[str, Any]:
        states = self.stores.flights.latest_many(list(cycle.changed))
        tiles = by_tile([states[c] for c in cycle.changed if c in states])
        limit = asyncio.Semaphore(_CONCURRENT_POSTS)

        async def one(tile: str, group: Sequence[FlightState]) -> bool:
            batch = FlightUpdateBatch(
                cycle_id=cycle.cycle_id,
                at=cycle.at,
                published_at=cycle.published_at,
                flights=[Flight.from_state(s) for s in group],
                removed=[],
                dropped_batches=0,
                snapshot=False,
            )
            variables = {"tile": tile, "batch": orjson.dumps(serialise(batch)).decode()}
            async with limit:
                try:
                    await self.post(PUBLISH_FLIGHTS, variables)
                except Exception:  # one tile must not cost the others their batch
                    log.exception("publishing tile %s of cycle %s failed", tile, cycle.cycle_id)
                    return False
            return True

        batches = [
            (t, g[i : i + MAX_BATCH]) for t, g in tiles.items() for i in range(0, len(g), MAX_BATCH)
        ]
        done = await asyncio.gather(*(one(t, g) for t, g in batches))
        return {
            "cycle_id": cycle.cycle_id,
            "tiles": len(tiles),
            "batches": len(batches),
            "failed": done.count(False),
            "aircraft": sum(map(len, tiles.values())),
        }
