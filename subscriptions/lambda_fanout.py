"""The fan-out of one ingest cycle to the subscriptions stored by the WebSocket API.

On Lambda, each FlightDataProcessed event (its detail names the aircraft stored that
cycle, ``changed``) runs ``FanOut.run``: the cycle's states are read back once
(``latest_many``) and indexed once (``StateIndex``); each subscription's ``View`` is
rebuilt from its stored ``inside`` map and applied exactly as ``UpdateHub.dispatch``
applies it in a long-running server, so both give the same batches. A batch is executed
through the subscription's own document and posted; the updated view is written back only
when the batch was delivered. Unlike the server, an empty batch (nothing changed inside the
filter) is not sent: on Lambda every message is a paid API call.

A connection API Gateway reports gone is removed with its subscriptions. One
subscription failing (its document no longer valid, a message it cannot be sent) never
stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import strawberry

from config import Settings
from domain import BoundingBox, FlightState
from live.filtering import StateIndex, UpdateFilter, View
from live.processed_cycle import Cycle
from resolvers.subscriptions import shared_flight
from schema.context import Context, make_loaders
from schema.live import FlightUpdateBatch
from schema.track import TrackPoint
from storage.base import live_since
from storage.dynamodb.connections import (
    DynamoConnectionRepository,
    SubscriptionRecord,
    ViewTooLarge,
)
from storage.stores import Stores
from subscriptions.apigw import ConnectionGone, ManagementApi, ManagementApiError
from subscriptions.operations import (
    Operation,
    Rejected,
    error_message,
    next_messages,
    prepare,
    too_many_aircraft,
)

log = logging.getLogger(__name__)


def update_filter(sub: SubscriptionRecord) -> UpdateFilter:
    bbox = BoundingBox(*sub.bbox) if sub.bbox is not None else None
    return UpdateFilter(bbox=bbox, icao24=sub.icao24)


@dataclass(slots=True)
class _Outgoing:
    sub: SubscriptionRecord
    messages: list[bytes]
    done: bool = False  # the subscription ends after these messages


class FanOut:
    """Sends one cycle to every stored subscription. ``api`` gives the management API of
    an endpoint; ``workers`` connections are posted to at once."""

    def __init__(
        self,
        *,
        schema: strawberry.Schema,
        stores: Stores,
        settings: Settings,
        connections: DynamoConnectionRepository,
        api: Callable[[str], ManagementApi],
        workers: int = 16,
    ) -> None:
        self.schema = schema
        self.stores = stores
        self.settings = settings
        self.connections = connections
        self.api = api
        self.workers = workers

    async def run(self, cycle: Cycle) -> dict[str, Any]:
        subs = self.connections.subscriptions()
        summary: dict[str, Any] = {"cycle_id": cycle.cycle_id, "subscriptions": len(subs)}
        if not subs:
            return summary
        states = list(self.stores.flights.latest_many(list(cycle.changed)).values())
        index = StateIndex(states, shared_flight)
        _, stale_before = live_since(self.stores.flights, self.settings.live_window_s)
        context = Context(
            stores=self.stores,
            settings=self.settings,
            loaders=make_loaders(self.stores, self.settings),
        )
        outbox: list[_Outgoing] = []
        for sub in subs:
            try:
                out = await self._batch(sub, cycle, index, stale_before, context)
            except Exception:  # one subscription must not cost the others their batch
                log.exception("subscription %s of %s failed", sub.id, sub.connection_id)
                continue
            if out.messages:
                outbox.append(out)
        delivered, gone = self._deliver(outbox)
        for out in delivered:
            self._settle(out)
        for connection_id in gone:
            self.connections.disconnect(connection_id)
        summary |= {
            "sent": sum(len(o.messages) for o in delivered),
            "gone": len(gone),
        }
        return summary

    async def _batch(
        self,
        sub: SubscriptionRecord,
        cycle: Cycle,
        index: StateIndex,
        stale_before: datetime | None,
        context: Context,
    ) -> _Outgoing:
        roots = self._roots(sub, cycle, index, stale_before)
        if not roots:
            return _Outgoing(sub, [])
        try:
            operation: Operation = prepare(
                self.schema, sub.query, sub.variables, sub.operation_name, context
            )
        except Rejected as exc:  # the schema changed under a stored document
            return _Outgoing(sub, [error_message(sub.id, exc.errors)], done=True)
        messages = [m for root in roots for m in await next_messages(operation, sub.id, root)]
        return _Outgoing(sub, messages)

    def _roots(
        self,
        sub: SubscriptionRecord,
        cycle: Cycle,
        index: StateIndex,
        stale_before: datetime | None,
    ) -> list[Any]:
        """What the subscription's resolver would yield for this cycle; updates ``sub``."""
        flt = update_filter(sub)
        if sub.root_field == "trackUpdates":
            return [TrackPoint.from_state(s) for s in self._new_positions(sub, flt.select(index))]
        view = View(flt, sub.view)
        matched, removed = view.apply(index, stale_before)
        if not matched.codes and not removed:
            return []
        return [
            FlightUpdateBatch(
                cycle_id=cycle.cycle_id,
                at=cycle.at,
                published_at=cycle.published_at,
                flights=matched.shown,
                removed=removed,
                dropped_batches=0,
                snapshot=False,
            )
        ]

    @staticmethod
    def _new_positions(sub: SubscriptionRecord, states: Sequence[FlightState]) -> list[FlightState]:
        fresh = []
        for state in states:
            at = state.time.timestamp()
            if state.has_position and (sub.last_time is None or at > sub.last_time):
                sub.last_time = at
                fresh.append(state)
        return fresh

    def _deliver(self, outbox: list[_Outgoing]) -> tuple[list[_Outgoing], set[str]]:
        """Post each subscription's messages in order, subscriptions in parallel; returns
        those delivered and the connections found gone."""

        def post(out: _Outgoing) -> str:
            api = self.api(out.sub.endpoint)
            try:
                for message in out.messages:
                    api.post(out.sub.connection_id, message)
            except ConnectionGone:
                return "gone"
            except ManagementApiError as exc:
                log.warning("batch of subscription %s not delivered: %s", out.sub.id, exc)
                return "failed"
            return "delivered"

        if not outbox:
            return [], set()
        with ThreadPoolExecutor(min(self.workers, len(outbox))) as pool:
            outcomes = list(pool.map(post, outbox))
        delivered = [o for o, result in zip(outbox, outcomes, strict=True) if result == "delivered"]
        gone = {o.sub.connection_id for o, r in zip(outbox, outcomes, strict=True) if r == "gone"}
        return [o for o in delivered if o.sub.connection_id not in gone], gone

    def _settle(self, out: _Outgoing) -> None:
        """Keep what the subscriber now sees, or forget a subscription that ended."""
        sub = out.sub
        if out.done:
            self.connections.remove_subscription(sub.connection_id, sub.id)
            return
        try:
            if not self.connections.save_view(sub):
                log.info("subscription %s changed meanwhile; its view is not saved", sub.id)
        except ViewTooLarge as exc:
            message = error_message(sub.id, [too_many_aircraft(exc)])
            self.connections.remove_subscription(sub.connection_id, sub.id)
            try:
                self.api(sub.endpoint).post(sub.connection_id, message)
            except (ConnectionGone, ManagementApiError) as post_exc:
                log.info("could not tell subscription %s it ended: %s", sub.id, post_exc)
