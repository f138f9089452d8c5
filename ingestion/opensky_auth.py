"""OAuth2 client-credentials tokens for the OpenSky REST API.

OpenSky's Keycloak realm issues a bearer token for a client id and secret
(``POST`` form ``grant_type=client_credentials&client_id=…&client_secret=…``, answer
``{"access_token": …, "expires_in": seconds}``; tokens last 30 minutes). Basic auth was
removed on 2026-03-18, so this is the only way to authenticate.

Invariants: the secret never appears in an error message or a repr; a cached token is
never handed out within ``margin_s`` of its expiry.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from ingestion.errors import UpstreamError

DEFAULT_AUTH_URL = (
    "https://auth.opensky-network.org/auth/realms/opensky-network/protocol/openid-connect/token"
)
REFRESH_MARGIN_S = 30.0
# Used when the token endpoint leaves out ``expires_in`` (RFC 6749 makes it optional);
# OpenSky documents 30 minutes, and a 401 recovers if that guess is ever wrong.
DEFAULT_EXPIRES_IN_S = 1800.0

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class _Token:
    value: str = ""
    refresh_at: float = -math.inf


class TokenManager:
    """Fetches, caches and refreshes one access token.

    Not thread-safe; safe for concurrent coroutines on one event loop (a lock makes them
    share a single refresh). ``clock`` is monotonic seconds, injectable for tests.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        client_id: str,
        client_secret: str,
        *,
        auth_url: str = DEFAULT_AUTH_URL,
        clock: Clock = time.monotonic,
        margin_s: float = REFRESH_MARGIN_S,
    ) -> None:
        self._client = client
        self.client_id = client_id
        self._secret = client_secret
        self.auth_url = auth_url
        self._clock = clock
        self._margin_s = margin_s
        self._token = _Token()
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"TokenManager(client_id={self.client_id!r}, auth_url={self.auth_url!r})"

    async def token(self) -> str:
        """A usable access token: the cached one, or a new one when it is due."""
        async with self._lock:
            if self._clock() >= self._token.refresh_at:
                self._token = await self._fetch()
            return self._token.value

    def invalidate(self) -> None:
        """Forget the cached token (the API answered 401), so the next call fetches one."""
        self._token = _Token()

    async def _fetch(self) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret,
        }
        try:
            response = await self._client.post(self.auth_url, data=form)
        except httpx.TimeoutException as exc:
            raise UpstreamError(
                f"OpenSky token endpoint timed out: {type(exc).__name__}", transient=True
            ) from exc
        except httpx.RequestError as exc:
            raise UpstreamError(
                f"OpenSky token endpoint unreachable: {type(exc).__name__}: {exc}", transient=True
            ) from exc
        return self._token_from(response)

    def _token_from(self, response: httpx.Response) -> _Token:
        status = response.status_code
        if status in (400, 401):
            raise UpstreamError(
                f"OpenSky rejected the client credentials for client id {self.client_id!r} "
                f"(HTTP {status}{_oauth_error(response)}); check OPENSKY_CLIENT_ID and "
                "OPENSKY_CLIENT_SECRET",
                status=status,
                transient=False,
            )
        if status != 200:
            raise UpstreamError(
                f"OpenSky token endpoint answered HTTP {status}",
                status=status,
                transient=status >= 500 or status == 429,
            )
        body = _json_object(response.content)
        value = body.get("access_token") if body is not None else None
        if not isinstance(value, str) or not value:
            raise UpstreamError(
                "OpenSky token endpoint answered 200 without an access_token",
                status=200,
                transient=True,
            )
        expires_in = _expires_in(body)
        return _Token(value, self._clock() + expires_in - self._margin_s)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _expires_in(body: dict[str, Any] | None) -> float:
    value = body.get("expires_in") if body is not None else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return DEFAULT_EXPIRES_IN_S
    return max(0.0, float(value))


def _oauth_error(response: httpx.Response) -> str:
    """``": <error code>"`` from an RFC 6749 error body, or nothing; never the request."""
    body = _json_object(response.content)
    error = body.get("error") if body is not None else None
    return f": {error[:80]}" if isinstance(error, str) and error else ""
