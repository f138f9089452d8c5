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
"""

from __future__ import annotations

import math
from typing import Any

from graphql import GraphQLError
from strawberry.exceptions import ConnectionRejectionError

from security.gate import Gate
from security.keys import WS_PAYLOAD_FIELDS, KeyRejected
from security.middleware import too_many
from security.principal import SCOPE_PRINCIPAL


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


async def admit_connection(gate: Gate, scope: dict[str, Any], params: Any) -> None:
    """Authenticate a ``connection_init`` (unless the upgrade carried a key) and take a
    token; raises ``ConnectionRejectionError`` saying why not."""
    principal = scope.get(SCOPE_PRINCIPAL)
    if principal is None:
        client = scope.get("client")
        try:
            principal = await gate.authenticate(
                payload_key(params), client[0] if client else "unknown"
            )
        except KeyRejected as exc:
            raise ConnectionRejectionError({"code": exc.code, "message": str(exc)}) from exc
        scope[SCOPE_PRINCIPAL] = principal
    decision = await gate.admit(principal, "websocket")
    if not decision.allowed:
        code, message = too_many(decision)
        raise ConnectionRejectionError(
            {"code": code, "message": message, "retryAfter": math.ceil(decision.retry_after_s)}
        )


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
