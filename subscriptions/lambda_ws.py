"""GraphQL subscriptions on AWS Lambda: ``handler`` serves an API Gateway WebSocket API
in graphql-transport-ws, and fans each FlightDataProcessed event out to it.

API Gateway invokes ``handler`` for each route of a connection; an EventBridge rule invokes
it for each FlightDataProcessed event (``fanout.FanOut``). Connections and subscriptions
live in the connections table (``storage.dynamodb.connections``); every message to a client
is a management API ``post_to_connection`` (``apigw``).

- ``$connect``: accepted only when ``Sec-WebSocket-Protocol`` offers
  ``graphql-transport-ws``, which the response echoes; otherwise refused with HTTP 400.
- ``$default``: one protocol message. ``connection_init`` -> ``connection_ack``;
  ``ping`` -> ``pong``; ``subscribe`` -> the document is validated (only subscription
  operations, ``flightUpdates`` and ``trackUpdates``), stored, and its first result (the
  current state) sent as ``next`` at once; ``complete`` forgets the subscription. A bad
  document or argument gets an ``error`` message with GraphQL errors.
- ``$disconnect``: the connection's items are deleted.

Protocol violations close the connection (``delete_connection``) as graphql-transport-ws
prescribes: 4400 bad message, 4401 subscribe before ``connection_ack``, 4409 an operation
id in use, 4429 a second ``connection_init``. API Gateway cannot send a close code or
reason, so the code and reason are logged here and the client sees a plain close. Two
rules of the protocol have no timer to run on: 4408 (no ``connection_init`` in time)
becomes API Gateway's idle timeout, and a server ``ping`` is never sent (clients ping).

``WebSocketApi`` holds what it needs (settings, stores, clients); ``runtime.lambdas``
builds it on the first invocation and keeps it while the container is warm.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import strawberry
from graphql import GraphQLError

from config import Settings
from domain.events import FlightDataProcessed
from live.processed_cycle import Cycle
from schema.context import Context, make_loaders
from schema.live import FlightUpdateBatch
from schema.track import TrackPoint
from security.gate import Gate
from security.keys import KeyRejected
from security.websocket import payload_key
from storage.dynamodb.connections import (
    DynamoConnectionRepository,
    SubscriptionRecord,
    ViewTooLarge,
)
from storage.stores import Stores
from subscriptions.apigw import ConnectionGone, ManagementApi, ManagementClientProtocol
from subscriptions.lambda_fanout import FanOut
from subscriptions.operations import (
    Rejected,
    SnapshotHub,
    error_message,
    first_root,
    next_messages,
    prepare,
    too_many_aircraft,
)

log = logging.getLogger(__name__)

PROTOCOL = "graphql-transport-ws"
MAX_SUBSCRIPTIONS_PER_CONNECTION = 100
MAX_DOCUMENT_BYTES = 64 * 1024  # query and variables; the item also holds the view


class _Close(Exception):
    """End the connection with a graphql-transport-ws close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass
class WebSocketApi:
    """What the handler needs, built by the composition root (``runtime.lambdas``) on the
    first invocation and kept while the container is warm."""

    settings: Settings
    stores: Stores
    connections: DynamoConnectionRepository
    schema: strawberry.Schema
    management_client: Callable[[str], ManagementClientProtocol]
    gate: Gate | None = None
    _apis: dict[str, ManagementApi] = field(default_factory=dict)

    def api(self, endpoint: str) -> ManagementApi:
        """The management API of ``endpoint``, one client each, kept while warm."""
        if endpoint not in self._apis:
            self._apis[endpoint] = ManagementApi(self.management_client(endpoint), endpoint)
        return self._apis[endpoint]

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """API Gateway WebSocket routes and EventBridge FlightDataProcessed events."""
        request = event.get("requestContext")
        if isinstance(request, dict) and "connectionId" in request:
            return _Routes(self, event).run()
        if event.get("detail-type") == FlightDataProcessed.detail_type:
            fanout = FanOut(
                schema=self.schema,
                stores=self.stores,
                settings=self.settings,
                connections=self.connections,
                api=self.api,
            )
            return asyncio.run(fanout.run(Cycle.from_event(event)))
        raise ValueError(f"not a WebSocket route nor a FlightDataProcessed event: {sorted(event)}")

    def close(self) -> None:
        self.stores.close()
        self.connections.close()


def _header(headers: Mapping[str, str] | None, name: str) -> str:
    wanted = name.lower()
    return next((v for k, v in (headers or {}).items() if k.lower() == wanted), "")


class _Routes:
    """One route invocation of one connection."""

    def __init__(self, rt: WebSocketApi, event: Mapping[str, Any]) -> None:
        self.rt = rt
        self.event = event
        request = event["requestContext"]
        self.route = str(request.get("routeKey", ""))
        self.connection_id = str(request["connectionId"])
        self.endpoint = rt.settings.websocket_api_endpoint or (
            f"https://{request['domainName']}/{request['stage']}"
        )

    def run(self) -> dict[str, Any]:
        if self.route == "$connect":
            return self._connect()
        if self.route == "$disconnect":
            self.rt.connections.disconnect(self.connection_id)
            return {"statusCode": 200}
        try:
            asyncio.run(self._message(self._body()))
        except _Close as close:
            self._close(close)
        except ConnectionGone:
            self.rt.connections.disconnect(self.connection_id)
        return {"statusCode": 200}

    def _connect(self) -> dict[str, Any]:
        offered = _header(self.event.get("headers"), "Sec-WebSocket-Protocol")
        if PROTOCOL not in (p.strip() for p in offered.split(",")):
            log.info("refusing %s: subprotocols %r", self.connection_id, offered)
            return {"statusCode": 400, "body": f"Sec-WebSocket-Protocol must offer {PROTOCOL}"}
        connected_ms = self.event["requestContext"].get("connectedAt") or time.time() * 1000
        self.rt.connections.connect(self.connection_id, self.endpoint, connected_ms / 1000)
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": PROTOCOL}}

    def _close(self, close: _Close) -> None:
        log.info("closing %s: %d %s", self.connection_id, close.code, close.reason)
        self.rt.api(self.endpoint).close(self.connection_id)
        self.rt.connections.disconnect(self.connection_id)

    def _body(self) -> dict[str, Any]:
        raw = self.event.get("body") or ""
        try:
            if self.event.get("isBase64Encoded"):
                raw = base64.b64decode(raw)
            message = orjson.loads(raw)
        except (ValueError, TypeError) as exc:
            raise _Close(4400, "Invalid message received") from exc
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise _Close(4400, "Invalid message received")
        return message

    def _send(self, message: bytes | dict[str, Any]) -> None:
        data = message if isinstance(message, bytes) else orjson.dumps(message)
        self.rt.api(self.endpoint).post(self.connection_id, data)

    async def _message(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "connection_init":
            if not isinstance(message.get("payload", {}), dict | None):
                raise _Close(4400, "Invalid connection init payload")
            await self._admit(message.get("payload"))
            if not self.rt.connections.acknowledge(self.connection_id):
                raise _Close(4429, "Too many initialisation requests")
            self._send({"type": "connection_ack"})
        elif kind == "ping":
            self._send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            op_id = message.get("id")
            if not isinstance(op_id, str):
                raise _Close(4400, "Invalid message received")
            self.rt.connections.remove_subscription(self.connection_id, op_id)
        else:
            raise _Close(4400, f"Unknown message type: {kind}")

    async def _admit(self, payload: Any) -> None:
        """The API key of the ``connection_init`` payload, as the server checks it (none
        needed with anonymous access), and a token of its quota; else 4403."""
        gate = self.rt.gate
        if gate is None:
            return
        identity = self.event.get("requestContext", {}).get("identity") or {}
        try:
            principal = await gate.authenticate(
                payload_key(payload), identity.get("sourceIp") or "unknown"
            )
        except KeyRejected as exc:
            raise _Close(4403, f"Forbidden: {exc}") from exc
        if not (await gate.admit(principal, "websocket")).allowed:
            raise _Close(4403, "Forbidden: rate limit exceeded")

    async def _subscribe(self, message: dict[str, Any]) -> None:
        op_id, payload = message.get("id"), message.get("payload")
        if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
            raise _Close(4400, "Invalid message received")
        query, variables = payload.get("query"), payload.get("variables")
        operation_name = payload.get("operationName")
        if (
            not isinstance(query, str)
            or not isinstance(variables, dict | None)
            or not isinstance(operation_name, str | None)
        ):
            raise _Close(4400, "Invalid message received")
        connection = self.rt.connections.connection(self.connection_id)
        if connection is None or not connection.acked:
            raise _Close(4401, "Unauthorized")
        if self.rt.connections.has_subscription(self.connection_id, op_id):
            raise _Close(4409, f"Subscriber for {op_id} already exists")
        try:
            if self.rt.connections.count_subscriptions(self.connection_id) >= (
                MAX_SUBSCRIPTIONS_PER_CONNECTION
            ):
                raise Rejected([GraphQLError("Subscription limit reached")])
            if len(query) + len(orjson.dumps(variables)) > MAX_DOCUMENT_BYTES:
                raise Rejected([GraphQLError(f"The document is over {MAX_DOCUMENT_BYTES} bytes")])
            await self._start(op_id, query, variables, operation_name)
        except Rejected as exc:
            self._send(error_message(op_id, exc.errors))
        except ViewTooLarge as exc:
            self._send(error_message(op_id, [too_many_aircraft(exc)]))

    async def _start(
        self,
        op_id: str,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> None:
        rt = self.rt
        recent = rt.stores.cycles.recent_cycles(1)
        hub = SnapshotHub(
            rt.stores,
            last_cycle_id=recent[0].cycle_id if recent else None,
            live_window_s=rt.settings.live_window_s,
        )
        context = Context(
            stores=rt.stores,
            settings=rt.settings,
            loaders=make_loaders(rt.stores, rt.settings),
            hub=hub,
        )
        operation = prepare(rt.schema, query, variables, operation_name, context)
        root = await first_root(operation)
        assert hub.subscriber is not None, "the resolver registers before its first result"
        view = hub.subscriber.view
        flt = view.filter
        record = SubscriptionRecord(
            connection_id=self.connection_id,
            id=op_id,
            root_field=operation.field,
            query=query,
            variables=variables,
            operation_name=operation_name,
            endpoint=self.endpoint,
            bbox=None if (box := flt.bbox) is None else (box.south, box.west, box.north, box.east),
            icao24=flt.icao24,
            view=_stored_view(root) if isinstance(root, FlightUpdateBatch) else {},
            last_time=root.time.timestamp() if isinstance(root, TrackPoint) else None,
        )
        # Stored before the first result is sent, so that no cycle is missed; one fanned
        # out in between may reach the client just before it.
        if not rt.connections.add_subscription(record):
            raise _Close(4409, f"Subscriber for {op_id} already exists")
        if root is not None:
            for data in await next_messages(operation, op_id, root):
                self._send(data)


def _stored_view(first: FlightUpdateBatch) -> dict[str, float]:
    """The view the fan-out keeps for a ``flightUpdates`` subscription: the aircraft of its
    first batch (everything inside its filter), with their last contacts."""
    return {f.icao24: f.last_contact.timestamp() for f in first.flights}
