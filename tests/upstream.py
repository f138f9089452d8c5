"""A fake upstream server for tests: recorded payloads over real loopback HTTP, faults on
demand.

``FakeUpstream`` runs a Starlette app under uvicorn in a background thread on
``127.0.0.1`` (a free port, bound before the thread starts) and serves:

- ``/api/states/all``: an OpenSky fixture file (``opensky_fixture``);
- ``/token``: an OAuth2 client-credentials endpoint (form ``grant_type``,
  ``client_id``, ``client_secret``) issuing ``tok-1``, ``tok-2``, … with
  ``expires_in = token_expires_in``;
- any other path given to ``serve(path, body)``; a path ending in ``*`` is a prefix
  (``/v2/point/*``).

A request carrying ``Authorization: Bearer`` with a token this server did not issue, or
one that has expired or was revoked by ``expire_tokens()``, gets 401; ``Basic`` must
match ``basic_users``. No header at all is anonymous and allowed.

Faults are actions: ``enqueue(path, *actions)`` makes the next requests to ``path``
answer with them in order, after which the path's normal answer comes back;
``serve(path, action)`` makes an action the normal answer. Every request is recorded
(``requests``). Thread-safe: the server thread and the test share state under a lock.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OPENSKY_PATH = "/api/states/all"
TOKEN_PATH = "/token"
CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1><p>The upstream server is unavailable.</p></body></html>"
)
_METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD"]


@dataclass(frozen=True, slots=True)
class Canned:
    """A fixed response."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Slow:
    """Wait ``delay_s`` (longer than the client's timeout), then answer ``then`` or, when
    it is ``None``, the path's normal answer."""

    delay_s: float
    then: Canned | None = None


@dataclass(frozen=True, slots=True)
class Truncated:
    """The path's normal body cut to its first ``n_bytes``, sent as a complete 200."""

    n_bytes: int


@dataclass(frozen=True, slots=True)
class Reset:
    """Close the connection without sending a response."""


Action = Canned | Slow | Truncated | Reset


def error(status: int, body: bytes = b"", content_type: str = "text/plain") -> Canned:
    return Canned(status, body or f"error {status}".encode(), content_type)


def rate_limited(retry_after_s: float | str, remaining: int | None = 0) -> Canned:
    """OpenSky's 429: credits gone, retry after so many seconds."""
    headers = {"X-Rate-Limit-Retry-After-Seconds": str(retry_after_s)}
    if remaining is not None:
        headers["X-Rate-Limit-Remaining"] = str(remaining)
    return Canned(429, b'{"error": "Too many requests"}', headers=headers)


def html_page(status: int = 200) -> Canned:
    """A proxy's or CDN's HTML error page, with whatever status it came with."""
    return Canned(status, HTML_PAGE, "text/html; charset=utf-8")


def null_states(time_s: int = 1_683_488_744) -> Canned:
    """OpenSky's answer when no aircraft match: ``states`` is ``null``."""
    return Canned(200, b'{"time":%d,"states":null}' % time_s)


def timeout(delay_s: float = 5.0) -> Slow:
    return Slow(delay_s)


def truncated(n_bytes: int = 100) -> Truncated:
    return Truncated(n_bytes)


def reset() -> Reset:
    return Reset()


def file(path: Path | str, content_type: str = "application/json") -> Canned:
    """A recorded payload; a bare name is looked up in ``tests/fixtures``."""
    resolved = Path(path) if Path(path).is_absolute() else FIXTURES / path
    return Canned(200, resolved.read_bytes(), content_type)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str) -> list[str]:
        return [v for k, v in self.params if k == name]


@dataclass
class _Token:
    expires_at: float
    revoked: bool = False


class FakeUpstream:
    """The server; use as a context manager or call ``start()`` and ``stop()``."""

    def __init__(
        self,
        *,
        opensky_fixture: Path | str = "opensky_states_small_4_18field.json",
        token_expires_in: int = 1800,
        clients: Mapping[str, str] | None = None,
        basic_users: Mapping[str, str] | None = None,
    ) -> None:
        self.opensky_fixture = opensky_fixture
        self.token_expires_in = token_expires_in
        self.clients = dict(clients or {CLIENT_ID: CLIENT_SECRET})
        self.basic_users = dict(basic_users or {})
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._routes: dict[str, Action] = {}
        self._queues: dict[str, deque[Action]] = {}
        self._tokens: dict[str, _Token] = {}
        self._token_ids = itertools.count(1)
        self._requests: list[RecordedRequest] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.clear()

    # -- test-facing API ----------------------------------------------------------------

    def clear(self) -> None:
        """Back to the constructor's routes: no queued faults, tokens or recorded requests."""
        with self._lock:
            self._routes = {OPENSKY_PATH: file(self.opensky_fixture)}
            self._queues.clear()
            self._tokens.clear()
            self._token_ids = itertools.count(1)
            self._requests.clear()

    def serve(
        self,
        path: str,
        body: bytes | Path | str | Action,
        *,
        status: int = 200,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer ``path`` with ``body`` (bytes, a fixture file or an action) from now on."""
        if isinstance(body, Slow) and body.then is None:
            raise ValueError("a served Slow needs `then`: it would otherwise answer itself")
        if isinstance(body, Path | str):
            body = file(body, content_type)
        if isinstance(body, bytes):
            body = Canned(status, body, content_type, dict(headers or {}))
        with self._lock:
            self._routes[path] = body

    def enqueue(self, path: str, *actions: Action) -> None:
        """The next ``len(actions)`` requests to ``path`` get these, in order."""
        with self._lock:
            self._queues.setdefault(path, deque()).extend(actions)

    def expire_tokens(self) -> None:
        """Every token issued so far now gets 401 (as if it had expired)."""
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeUpstream:
        # IPPROTO_TCP spelled out: asyncio only turns Nagle off (TCP_NODELAY) on sockets
        # whose proto says TCP, and with Nagle on every keep-alive request waits 40 ms.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self._app(),
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            http="h11",
            loop="asyncio",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._closing.clear()
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        self._wait_started()
        return self

    def _wait_started(self) -> None:
        assert self._server is not None
        deadline = time.monotonic() + 5.0
        while not self._server.started:
            if time.monotonic() > deadline or not (self._thread and self._thread.is_alive()):
                raise RuntimeError("the fake upstream server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._server = self._thread = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the app ------------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=_METHODS)])

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        self._record(request, path, body)
        action = self._next_queued(path)
        if action is None:
            return await self._normal(request, path, body)
        return await self._perform(request, action, path, body)

    async def _normal(self, request: Request, path: str, body: bytes) -> Response:
        """The answer without queued faults: a token, a 401, or the path's route."""
        if path == TOKEN_PATH:
            return self._issue_token(body)
        refused = self._check_auth(request.headers.get("authorization"))
        if refused is not None:
            return refused
        return await self._perform(request, self._route(path), path, body)

    def _record(self, request: Request, path: str, body: bytes) -> None:
        recorded = RecordedRequest(
            request.method,
            path,
            list(request.query_params.multi_items()),
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
        with self._lock:
            self._requests.append(recorded)

    def _next_queued(self, path: str) -> Action | None:
        with self._lock:
            key = _match(self._queues, path)
            queue = self._queues.get(key) if key is not None else None
            return queue.popleft() if queue else None

    def _route(self, path: str) -> Action:
        with self._lock:
            key = _match(self._routes, path)
            return self._routes[key] if key is not None else error(404, b"not found")

    async def _perform(self, request: Request, action: Action, path: str, body: bytes) -> Response:
        if isinstance(action, Slow):
            await self._sleep(action.delay_s)
            if action.then is None:
                return await self._normal(request, path, body)
            return await self._perform(request, action.then, path, body)
        if isinstance(action, Reset):
            return await self._reset(request)
        if isinstance(action, Truncated):
            normal = self._route(path)
            cut = normal.body[: action.n_bytes] if isinstance(normal, Canned) else b""
            return Response(cut, 200, media_type="application/json")
        return Response(
            action.body, action.status, headers=dict(action.headers), media_type=action.content_type
        )

    async def _sleep(self, seconds: float) -> None:
        # In slices, so stopping the server never waits for a long fault delay.
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._closing.is_set():
            await asyncio.sleep(min(0.05, deadline - time.monotonic()))

    async def _reset(self, request: Request) -> Response:
        """Abort the TCP connection this request came on; no response bytes are sent."""
        # ASGI has no "drop the connection" message, so find the uvicorn protocol serving
        # this client address and abort its transport.
        assert self._server is not None
        client = request.scope.get("client")
        for connection in list(self._server.server_state.connections):
            if getattr(connection, "client", None) == (tuple(client) if client else None):
                connection.transport.abort()
        for _ in range(100):
            if await request.is_disconnected():
                break
            await asyncio.sleep(0.01)
        return Response(b"", 500)  # discarded: uvicorn sends nothing once disconnected

    def _issue_token(self, body: bytes) -> Response:
        # Parsed by hand: Starlette's request.form() needs python-multipart.
        form = {k: v[-1] for k, v in parse_qs(body.decode("latin-1")).items()}
        if form.get("grant_type") != "client_credentials":
            return _json(400, {"error": "unsupported_grant_type"})
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        if self.clients.get(client_id) != secret:
            return _json(
                401,
                {
                    "error": "unauthorized_client",
                    "error_description": "Invalid client or Invalid client credentials",
                },
            )
        with self._lock:
            token = f"tok-{next(self._token_ids)}"
            self._tokens[token] = _Token(time.monotonic() + self.token_expires_in)
        issued = {
            "access_token": token,
            "expires_in": self.token_expires_in,
            "token_type": "Bearer",
        }
        return _json(200, issued)

    def _check_auth(self, header: str | None) -> Response | None:
        scheme, _, credentials = (header or "").partition(" ")
        if scheme.lower() == "bearer" and not self._token_valid(credentials):
            return _json(401, {"error": "invalid_token"}, {"WWW-Authenticate": "Bearer"})
        if scheme.lower() == "basic" and not self._basic_valid(credentials):
            return _json(401, {"error": "unauthorized"}, {"WWW-Authenticate": "Basic"})
        return None

    def _token_valid(self, value: str) -> bool:
        with self._lock:
            token = self._tokens.get(value)
            return token is not None and not token.revoked and time.monotonic() < token.expires_at

    def _basic_valid(self, credentials: str) -> bool:
        try:
            user, _, password = base64.b64decode(credentials).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return self.basic_users.get(user) == password


def _match(table: Mapping[str, Any], path: str) -> str | None:
    """The key of ``table`` for ``path``: exact, else the longest ``prefix*``."""
    if path in table:
        return path
    prefixes = [k for k in table if k.endswith("*") and path.startswith(k[:-1])]
    return max(prefixes, key=len, default=None)


def _json(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body).encode(), status, dict(headers or {}), "application/json")
