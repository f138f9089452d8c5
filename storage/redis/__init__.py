"""Redis adapters: the live index, the response cache, the pub/sub channel, the fallback,
and the clients they and ``security`` use: redis-py's (``connect``, ``connect_async``) and,
for the one call per request of the rate limiter and persisted queries, the small
pipelined ``resp.RespClient`` (measured at a fifth of ``redis.asyncio``'s CPU per call).

``connect`` turns ``REDIS_URL`` or ``REDIS_CLUSTER_ENDPOINT`` (``host:port``) into a client
with short socket timeouts: a dead Redis costs one call a quarter of a second at most, and
``Breaker`` spares the calls after that. Adapters take their client through the
constructor, typed by the narrow protocols below (only the methods they call), and
translate ``redis.RedisError`` once, inside the adapter. They expect bytes replies: make
clients without ``decode_responses``.

Key families, all documented in their modules: ``{prefix}:live:*`` (``live.py``),
``flights:bounds:*``, ``airport:*``, ``analytics:*``, ``flightdata:cache:*`` (``cache.py``),
channel ``flightdata:cycles`` (``pubsub.py``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.retry
from redis.backoff import NoBackoff

# A dead host must fail fast: a request waits at most this long for Redis before the
# caller falls back to the store (or computes without the cache).
CONNECT_TIMEOUT_S = 0.25
READ_TIMEOUT_S = 0.25


class RedisPipeline(Protocol):
    def execute_command(self, *args: Any, **options: Any) -> Any: ...

    def execute(self, raise_on_error: bool = True) -> list[Any]: ...


class RedisClient(Protocol):
    """The synchronous client methods the adapters use: raw commands and pipelines."""

    def execute_command(self, *args: Any, **options: Any) -> Any: ...

    def pipeline(
        self, transaction: bool = True, shard_hint: str | None = None
    ) -> RedisPipeline: ...


class RedisConnection(RedisClient, Protocol):
    """A client the stores own: its commands, and ``close`` when the stores close."""

    def close(self) -> None: ...


class AsyncPubSub(Protocol):
    async def subscribe(self, *args: Any, **kwargs: Any) -> None: ...

    def ping(self, message: Any = None) -> Awaitable[Any]: ...

    async def get_message(
        self, ignore_subscribe_messages: bool = False, timeout: float | None = 0.0
    ) -> Mapping[str, Any] | None: ...

    async def aclose(self) -> None: ...


class AsyncRedisClient(Protocol):
    """The ``redis.asyncio`` client methods the adapters use."""

    async def execute_command(self, *args: Any, **options: Any) -> Any: ...

    def pubsub(self, **kwargs: Any) -> AsyncPubSub: ...


def redis_url(url: str = "", cluster_endpoint: str = "") -> str | None:
    """The URL to connect to: ``REDIS_URL`` if set, else ``REDIS_CLUSTER_ENDPOINT``.

    An endpoint without a scheme (ElastiCache prints ``host:port``) becomes
    ``redis://host:port/0``; ``redis://``, ``rediss://`` (TLS) and ``unix://`` pass through.
    ``None`` when neither is set.
    """
    raw = (url or cluster_endpoint).strip()
    if not raw:
        return None
    if "://" in raw:
        return raw
    host, _, port = raw.partition(":")
    return f"redis://{host}:{port or 6379}/0"


def _options(retry: object, extra: Mapping[str, Any]) -> dict[str, Any]:
    # No retries: a retry would multiply the timeout a caller waits before it falls back,
    # and the callers (fallback, cache, listener) already decide what to do on a failure.
    return {
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_timeout": READ_TIMEOUT_S,
        "retry": retry,
        **extra,
    }


def connect(url: str, **options: Any) -> redis.Redis:
    """A client for ``url`` (or a bare ``host:port``) with fail-fast timeouts."""
    no_retry = redis.retry.Retry(NoBackoff(), 0)
    return redis.Redis.from_url(redis_url(url) or url, **_options(no_retry, options))


def connect_async(url: str, **options: Any) -> redis.asyncio.Redis:
    """Like ``connect``, for ``redis.asyncio`` (the pub/sub listener, async cache lookups)."""
    no_retry = redis.asyncio.retry.Retry(NoBackoff(), 0)
    return redis.asyncio.Redis.from_url(redis_url(url) or url, **_options(no_retry, options))


class Breaker:
    """Skips Redis for ``retry_after_s`` after a failure, so an outage costs one timeout
    per period rather than one per request. Thread-safe enough: races only cost an extra
    attempt or an extra skip.
    """

    def __init__(self, retry_after_s: float = 2.0) -> None:
        self.retry_after_s = retry_after_s
        self._open_until: float | None = None

    @property
    def healthy(self) -> bool:
        """Whether the last attempt succeeded."""
        return self._open_until is None

    def allow(self) -> bool:
        return self._open_until is None or time.monotonic() >= self._open_until

    def failed(self) -> None:
        self._open_until = time.monotonic() + self.retry_after_s

    def succeeded(self) -> None:
        self._open_until = None
