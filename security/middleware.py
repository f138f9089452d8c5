"""The ASGI middleware in front of the API: body size, API key, rate limit.

Pure ASGI (Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per request). For
each HTTP request to a protected path (``protected``) it:

1. refuses a body over ``max_body_bytes``: 413 from ``Content-Length`` before reading, or
   while reading a body sent without one;
2. authenticates (``Gate.authenticate``): 401 for a missing (when anonymous access is
   off), malformed, unknown, revoked or expired key, with a JSON body that says which;
3. takes a token (``Gate.admit``): 429 with ``Retry-After`` when none is left;
4. adds the ``RateLimit-*`` headers to the response (and OpenSky's ``X-Rate-Limit-*``
   under ``/api/``).

Refusals are JSON: ``{"error": <code>, "message": <why>}``. A WebSocket upgrade that
carries an ``X-API-Key`` header is checked here too (refused with the same JSON where the
server supports ASGI denial responses, else closed with 1008); one without a header is
let through for ``connection_init`` to authenticate (``security.websocket``).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from security.gate import Security
from security.keys import KeyRejected
from security.principal import SCOPE_PRINCIPAL
from security.ratelimit import Decision, headers, opensky_headers

_PROTECTED_PREFIXES = ("/v1/", "/api/", "/data/")
_OPENSKY_PREFIX = "/api/"  # the OpenSky-compatible endpoints, which tell limits its way
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def protected(scope: Scope) -> bool:
    """Whether the request needs the gate: ``/graphql`` but for its GraphiQL page (a GET
    that carries neither a query nor a persisted-query hash), and the REST prefixes."""
    path: str = scope["path"]
    if path == "/graphql":
        if scope.get("method") != "GET":
            return True
        query_string: bytes = scope.get("query_string", b"")
        return b"query=" in query_string or b"extensions=" in query_string
    return path.startswith(_PROTECTED_PREFIXES)


class _BodyTooLarge(Exception):
    pass


def refusal(status: int, code: str, message: str, extra: list[tuple[bytes, bytes]]) -> Any:
    """The ASGI messages of a JSON refusal."""
    body = orjson.dumps({"error": code, "message": message})
    return [
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                *extra,
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


def too_many(decision: Decision) -> tuple[str, str]:
    wait = max(1, math.ceil(decision.retry_after_s))
    message = f"rate limit exceeded ({decision.limit} requests a burst): retry in {wait} s"
    return "rate_limited", message


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, security: Security) -> None:
        self.app = app
        self.gate = security.gate
        self.max_body = security.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and protected(scope):
            await self._http(scope, receive, send)
        elif kind == "websocket" and self.gate is not None and protected(scope):
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = length = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                key = value
            elif name == b"content-length":
                length = value
        extra: list[tuple[bytes, bytes]] = []
        limited = False
        if length is not None:
            if not length.isdigit() or int(length) > self.max_body:
                await self._refuse(send, 413, *self._too_large(), extra)
                return
        elif scope["method"] in _BODY_METHODS:
            receive, limited = self._limited(receive), True
        gate = self.gate
        if gate is not None:
            text = key.decode("latin-1") if key else None
            principal = gate.authenticator.cached(text) if text else None
            if principal is None:
                client = scope.get("client")
                try:
                    principal = await gate.authenticate(text, client[0] if client else "unknown")
                except KeyRejected as exc:
                    await self._refuse(send, exc.status, exc.code, str(exc), extra)
                    return
            scope[SCOPE_PRINCIPAL] = principal
            decision = await gate.admit(principal)
            extra = headers(decision)
            if scope["path"].startswith(_OPENSKY_PREFIX):
                extra += opensky_headers(decision)
            if not decision.allowed:
                await self._refuse(send, 429, *too_many(decision), extra)
                return
        elif not limited:
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(send, 413, *self._too_large(), extra)

    def _too_large(self) -> tuple[str, str]:
        return "body_too_large", f"the request body is over {self.max_body:,} bytes"

    def _limited(self, receive: Receive) -> Receive:
        received = 0
        limit = self.max_body

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        return limited_receive

    @staticmethod
    async def _refuse(
        send: Send, status: int, code: str, message: str, extra: list[tuple[bytes, bytes]]
    ) -> None:
        for part in refusal(status, code, message, extra):
            await send(part)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.gate is not None
        key = next((v for k, v in scope["headers"] if k == b"x-api-key"), None)
        if key is None:
            await self.app(scope, receive, send)  # connection_init authenticates
            return
        client = scope.get("client")
        try:
            principal = await self.gate.authenticate(
                key.decode("latin-1"), client[0] if client else "unknown"
            )
        except KeyRejected as exc:
            await receive()  # websocket.connect
            if "websocket.http.response" in scope.get("extensions", {}):
                for part in refusal(exc.status, exc.code, str(exc), []):
                    part["type"] = part["type"].replace("http.", "websocket.http.", 1)
                    await send(part)
            else:
                await send({"type": "websocket.close", "code": 1008, "reason": str(exc)[:120]})
            return
        scope[SCOPE_PRINCIPAL] = principal
        await self.app(scope, receive, send)
