"""The gate for GraphQL over WebSocket: at ``connection_init``, and before each operation.

Browsers cannot set headers on a WebSocket upgrade, so the key travels in the
``connection_init`` payload: ``{"apiKey": "fd_..."}`` (also ``api_key``, ``X-API-Key``, or
inside ``{"headers": {...}}``). A key sent as an ``X-API-Key`` header on the upgrade was
already checked by the middleware and wins.

A refused ``connection_init`` raises Strawberry's ``ConnectionRejectionError`` with
``{"code", "message"}``: the legacy ``graphql-ws`` protocol sends that payload in its
``connection_error`` message; ``graphql-transport-ws`` closes with 4403 Forbidden, as its
specification says. Each accepted connection takes one token, and so does each operation
it starts (``admit_operation``), refused with a GraphQL error that says when to retry.

A connection lives as long as its key does: ``watch_key`` checks the key again every half
second (from the verified-key cache, which sees a revocation within a second on every
process) and closes the socket with 4403 and the reason once the key is revoked or expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import MutableMapping
from typing import Any

from graphql import GraphQLError
from starlette.websockets import WebSocket, WebSocketState
from strawberry.exceptions import ConnectionRejectionError

from security.gate import Gate
from security.keys import WS_PAYLOAD_FIELDS, KeyRejected
from security.middleware import too_many
from security.principal import SCOPE_PRINCIPAL

FORBIDDEN = 4403
_WATCH_EVERY_S = 0.5
_MAX_REASON_BYTES = 123  # a close frame's reason (RFC 6455, 5.5)


def payload_key(params: Any) -> str | None:
    if not isinstance(params, dict):
        return None
    for source in (params, params.get("headers")):
        if isinstance(source, dict):
            for name in WS_PAYLOAD_FIELDS:
                value = source.get(name)
                if isinstance(value, str) and value:
                    return value
    return None


def upgrade_key(scope: MutableMapping[str, Any]) -> str | None:
    """The ``X-API-Key`` header of the upgrade request, if it had one."""
    for name, value in scope.get("headers") or ():
        if name == b"x-api-key" and value:
            return bytes(value).decode("latin-1")
    return None


def _address(scope: MutableMapping[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def admit_connection(gate: Gate, websocket: WebSocket, params: Any) -> None:
    """Authenticate a ``connection_init`` (unless the upgrade carried a key) and take a
    token; raises ``ConnectionRejectionError`` saying why not. An accepted connection with
    a key is watched (``watch_key``) until it closes."""
    scope = websocket.scope
    principal = scope.get(SCOPE_PRINCIPAL)
    key = upgrade_key(scope) if principal is not None else payload_key(params)
    if principal is None:
        try:
            principal = await gate.authenticate(key, _address(scope))
        except KeyRejected as exc:
            raise ConnectionRejectionError({"code": exc.code, "message": str(exc)}) from exc
        scope[SCOPE_PRINCIPAL] = principal
    decision = await gate.admit(principal, "websocket")
    if not decision.allowed:
        code, message = too_many(decision)
        raise ConnectionRejectionError(
            {"code": code, "message": message, "retryAfter": math.ceil(decision.retry_after_s)}
        )
    if key and not principal.anonymous:
        # Held by the scope, which lives as long as the connection; the task ends with it.
        scope[_SCOPE_WATCH] = asyncio.create_task(watch_key(gate, websocket, key))


_SCOPE_WATCH = "flightdata.key_watch"


def _open(websocket: WebSocket) -> bool:
    closed = WebSocketState.DISCONNECTED
    return closed not in (websocket.client_state, websocket.application_state)


async def watch_key(
    gate: Gate, websocket: WebSocket, key: str, every_s: float = _WATCH_EVERY_S
) -> None:
    """Close ``websocket`` with 4403 and the reason once ``key`` is no longer valid; ends
    when the socket closes."""
    address = _address(websocket.scope)
    while True:
        await asyncio.sleep(every_s)
        if not _open(websocket):
            return
        try:
            await gate.authenticate(key, address)
        except KeyRejected as exc:
            with contextlib.suppress(Exception):
                reason = str(exc).encode()[:_MAX_REASON_BYTES].decode(errors="ignore")
                await websocket.close(code=FORBIDDEN, reason=reason)
            return


async def admit_operation(gate: Gate, context: Any) -> GraphQLError | None:
    """A token for one operation on an accepted connection; the error to send if none."""
    request = getattr(context, "request", None)
    scope = getattr(request, "scope", None)
    if not isinstance(scope, dict) or scope.get("type") != "websocket":
        return None  # HTTP (SSE, multipart): the middleware took the token
    principal = scope.get(SCOPE_PRINCIPAL)
    if principal is None:  # unreachable: both protocols refuse operations before the ack
        return GraphQLError("not authenticated", extensions={"code": "UNAUTHENTICATED"})
    decision = await gate.admit(principal, "websocket")
    if decision.allowed:
        return None
    code, message = too_many(decision)
    return GraphQLError(
        message,
        extensions={"code": code.upper(), "retryAfter": math.ceil(decision.retry_after_s)},
    )
