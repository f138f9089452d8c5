"""Persisted queries by SHA-256, Apollo's automatic persisted queries (APQ) convention.

A request may name its document by hash alone,
``extensions={"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}``, which lets a GET
URL stay short and a CDN cache it. An unknown hash is answered with the GraphQL error
``PersistedQueryNotFound``; the client then sends the query with its hash, which registers
it once the hash is checked (and the operation ran without a pre-execution error, so that
only documents that run are kept).

Documents are kept in a bounded in-process LRU map and, with Redis, under
``flightdata:pq:{sha256}`` for ``ttl_s`` so that every process knows them. Redis failures
only cost a miss. Thread-safety: for one event loop, as ``RespClient``.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import Any

from storage.redis.resp import RedisReplyError, RedisUnavailable, RespClient

log = logging.getLogger(__name__)

KEY_PREFIX = "flightdata:pq:"
NOT_FOUND = "PersistedQueryNotFound"
NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"


class PersistedQueryError(ValueError):
    """The ``persistedQuery`` extension is malformed or its hash does not match."""


def requested_hash(extensions: Any) -> str | None:
    """The hash a request's ``extensions`` names, ``None`` if it names none."""
    if not isinstance(extensions, dict):
        return None
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError("Unsupported persisted query version")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError("persistedQuery.sha256Hash must be 64 hex digits")
    return digest.lower()


def check_hash(query: str, digest: str) -> None:
    if hashlib.sha256(query.encode()).hexdigest() != digest:
        raise PersistedQueryError("provided sha does not match query")


class PersistedQueries:
    def __init__(
        self, redis: RespClient | None = None, *, max_local: int = 10_000, ttl_s: int = 30 * 86400
    ) -> None:
        self._redis = redis
        self._local: OrderedDict[str, str] = OrderedDict()
        self._max_local = max_local
        self._ttl_s = ttl_s

    async def get(self, digest: str) -> str | None:
        query = self._local.get(digest)
        if query is not None:
            self._local.move_to_end(digest)
            return query
        if self._redis is None:
            return None
        reply = await self._call("GET", KEY_PREFIX + digest)
        if not isinstance(reply, bytes):
            return None
        query = reply.decode()
        self._remember(digest, query)
        return query

    async def put(self, digest: str, query: str) -> None:
        if digest in self._local:
            return
        self._remember(digest, query)
        if self._redis is not None:
            await self._call("SET", KEY_PREFIX + digest, query, "EX", self._ttl_s)

    def _remember(self, digest: str, query: str) -> None:
        self._local[digest] = query
        if len(self._local) > self._max_local:
            self._local.popitem(last=False)

    async def _call(self, *args: str | int) -> Any:
        assert self._redis is not None
        try:
            reply = await self._redis.call(*args)
        except RedisUnavailable as exc:
            log.warning("persisted queries: Redis unavailable: %s", exc)
            return None
        return None if isinstance(reply, RedisReplyError) else reply
