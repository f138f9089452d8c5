"""A GraphQL subscription operation outside a long-running process: prepared from its
document, started once for its first result, then executed once per cycle batch.

The WebSocket API on Lambda keeps no generator between invocations. On subscribe, the
schema's own resolver runs until it asks for the next cycle: its arguments are checked and
its first result (the current state) built exactly as on a long-running server, through
``SnapshotHub``, which records the filter the resolver registered and ends the stream at
the resolver's first ``next()``. Each later batch (a ``FlightUpdateBatch`` or a
``TrackPoint``, built by the fan-out) is executed as a subscription event: graphql-core
runs the document's selection with the batch as the root value, as it does for every
event of a subscription stream.

Errors reach the client as GraphQL errors: a bad document or argument says what is wrong;
anything unexpected is logged with its traceback and masked ("Unexpected error.").
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import strawberry
from graphql import (
    ExecutionResult,
    Executor,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationType,
    SelectionNode,
)

from domain import FlightState
from live.channel import InProcessBroadcaster
from live.filtering import StateIndex, UpdateFilter
from live.subscribers import Batch, Subscriber, UpdateHub
from resolvers.subscriptions import shared_flight
from schema import mask_errors
from schema._executor import encode_json
from schema.context import Context
from schema.live import FlightUpdateBatch
from schema.streaming import build_executor, event_source, execute_event
from storage.base import FlightFilter
from storage.dynamodb.connections import ViewTooLarge
from storage.stores import Stores
from subscriptions.apigw import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

# The root fields of Subscription this API serves.
SERVED_FIELDS = frozenset({"flightUpdates", "trackUpdates"})


class Rejected(Exception):
    """The operation cannot start; ``errors`` are for the client's ``error`` message."""

    def __init__(self, errors: Sequence[GraphQLError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)


class _CycleAsked(Exception):
    """The resolver asked for the next cycle: its first result is all there is for now."""


class _FirstOnly(Subscriber):
    async def next(self) -> Batch:
        raise _CycleAsked


class SnapshotHub(UpdateHub):
    """The ``UpdateHub`` of one subscribe message: it records the subscriber the resolver
    registers (its filter, and after the first result its view), serves as the current
    state only what the store holds inside that filter, and has no cycles to give: cycles
    reach the subscription through the fan-out instead."""

    def __init__(self, stores: Stores, *, last_cycle_id: str | None, live_window_s: float) -> None:
        super().__init__(InProcessBroadcaster(), live_window_s=live_window_s, present=shared_flight)
        self.stores = stores
        self.last_cycle_id = last_cycle_id
        self.subscriber: Subscriber | None = None
        self.ready.set()

    @contextlib.contextmanager
    def subscribe(self, flt: UpdateFilter) -> Iterator[Subscriber]:
        self.subscriber = _FirstOnly(flt, queue_size=1)
        yield self.subscriber

    def current(self) -> StateIndex:
        assert self.subscriber is not None, "the resolver subscribes before it reads"
        return StateIndex(self._live_inside(self.subscriber.view.filter), self.present)

    def _live_inside(self, flt: UpdateFilter) -> list[FlightState]:
        """The live states ``flt`` can match, as the flights query would list them."""
        flights = self.stores.flights
        newest = flights.newest_contact()
        since = None if newest is None else newest - self.live_window
        if flt.icao24 is not None:
            found = flights.latest_many(sorted(flt.icao24)).values()
            return [s for s in found if since is None or s.last_contact >= since]
        return flights.all_latest(FlightFilter(bbox=flt.bbox, since=since))


@dataclass(frozen=True, slots=True)
class Operation:
    """A validated subscription operation; ``field`` is its root field's name."""

    schema: strawberry.Schema
    executor: Executor[Any]
    field: str


def prepare(
    schema: strawberry.Schema,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    context: Context,
) -> Operation:
    """Parse, validate and bind ``query`` to its variables; ``Rejected`` if it is not a
    subscription to one of ``SERVED_FIELDS`` that can run."""
    built = build_executor(schema, query, variables, operation_name, context)
    if isinstance(built, list):
        raise Rejected(built)
    if built.operation.operation is not OperationType.SUBSCRIPTION:
        raise Rejected(
            [
                GraphQLError(
                    "Only subscriptions are served over this WebSocket API;"
                    " send queries to /graphql over HTTP."
                )
            ]
        )
    field = _root_field(built.operation.selection_set.selections, built)
    if field not in SERVED_FIELDS:
        raise Rejected([GraphQLError(f"Subscription field {field!r} is not served here.")])
    return Operation(schema, built, field)


def _root_field(selections: Sequence[SelectionNode], executor: Executor[Any]) -> str:
    """The one root field of a validated subscription, through any fragments."""
    for node in selections:
        if isinstance(node, FieldNode):
            return node.name.value
        if isinstance(node, InlineFragmentNode):
            return _root_field(node.selection_set.selections, executor)
        if isinstance(node, FragmentSpreadNode):
            fragment = executor.fragment_definitions[node.name.value]
            return _root_field(fragment.selection_set.selections, executor)
    raise AssertionError("a validated subscription selects one field")


async def first_root(operation: Operation) -> Any:
    """The resolver's first result (before any cycle), or ``None`` when it has none yet."""
    source = await event_source(operation.executor)
    if isinstance(source, ExecutionResult):
        raise Rejected(_for_client(operation.schema, source.errors or []))
    stream = aiter(source)
    try:
        return await anext(stream)
    except (_CycleAsked, StopAsyncIteration):
        return None
    except Exception as exc:  # the resolver's own: a bad argument, a store that is down
        error = GraphQLError(str(exc), original_error=exc)
        raise Rejected(_for_client(operation.schema, [error])) from exc
    finally:
        if (close := getattr(stream, "aclose", None)) is not None:
            await close()


async def execute(operation: Operation, root: Any) -> dict[str, Any]:
    """The response to one event: the document executed with ``root`` as root value."""
    result = await execute_event(operation.executor, root)
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [e.formatted for e in _for_client(operation.schema, result.errors)]
    return payload


async def next_messages(operation: Operation, op_id: str, root: Any) -> list[bytes]:
    """``next`` messages for one event, each within API Gateway's message limit. A batch
    of flights too large for one is sent as several, each a valid batch: the first keeps
    ``removed`` and ``snapshot``, the others only add flights."""
    message = encode({"id": op_id, "type": "next", "payload": await execute(operation, root)})
    if len(message) <= MAX_MESSAGE_BYTES:
        return [message]
    if not isinstance(root, FlightUpdateBatch) or len(root.flights) < 2:
        log.error("dropping a %d-byte message to subscription %s", len(message), op_id)
        return []
    half = len(root.flights) // 2
    head = replace(root, flights=root.flights[:half])
    tail = replace(root, flights=root.flights[half:], removed=[], snapshot=False)
    return [
        *await next_messages(operation, op_id, head),
        *await next_messages(operation, op_id, tail),
    ]


def too_many_aircraft(exc: ViewTooLarge) -> GraphQLError:
    return GraphQLError(f"The filter holds too many aircraft for one subscription ({exc}).")


def error_message(op_id: str, errors: Sequence[GraphQLError]) -> bytes:
    return encode({"id": op_id, "type": "error", "payload": [e.formatted for e in errors]})


def encode(message: dict[str, Any]) -> bytes:
    """A message as the API's WebSocket sends it: each shared flight encoded once."""
    return encode_json(message)


def _for_client(schema: strawberry.Schema, errors: list[GraphQLError]) -> list[GraphQLError]:
    """Log the unexpected errors (with their tracebacks) and mask them."""
    schema.process_errors(errors)
    return mask_errors(errors) or []
