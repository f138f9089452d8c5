"""The response cache: cache-aside in Redis, 30 s TTL, invalidated by ingest cycles.

Key layout (the architecture's ``Caching Strategy``)::

    flights:bounds:{hash}:page:{n}:gen:{g}   a flights page. {hash}: 16 hex digits of
                                    BLAKE2b over the normalised filter and the page size;
                                    {n}: 0 for the first page, else the icao24 the page
                                    starts after (cursors are keysets, not offsets);
                                    {g}: the value of flights:generation
    flights:generation              INCRed by every FlightDataProcessed that stored states
    airport:{ICAO}                  an airport
    analytics:{type}:{timerange}:{hash}   an analytics result; {hash} over its parameters
    flightdata:cache:hits|misses    INCRed by every process, for the fleet-wide hit ratio

Values are orjson bytes of plain JSON values (dict, list, str, int, float, bool, None):
what ``compute`` returns must survive a JSON round trip, so that a hit returns what the
miss returned.

Invalidation bumps a generation instead of SCAN+DEL of ``flights:bounds:*``: one INCR
instead of a walk over the whole keyspace (which also holds the live index) every cycle,
and no race: a page computed from the old data and stored after the bump lands under the
old generation and is never read. Old generations expire with their TTL. A lookup reads
the generation and the key in one Lua call, one round trip like a plain GET.

Redis never fails a request: on any Redis error the value is computed and returned, the
error counted, and Redis skipped for a couple of seconds (``Breaker``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import orjson
from redis.exceptions import RedisError

from domain.events import Event, FlightDataProcessed
from storage import cursor
from storage.base import FlightFilter, fold_ascii
from storage.offload import offload
from storage.redis import AsyncRedisClient, Breaker, RedisClient

log = logging.getLogger(__name__)

T = TypeVar("T")

GENERATION_KEY = "flights:generation"
HITS_KEY = "flightdata:cache:hits"
MISSES_KEY = "flightdata:cache:misses"

# KEYS: hits counter, generation. ARGV: key, '1' if versioned, '1' to bump the generation
# first (an invalidation owed since Redis failed). Returns {stored key, value or nothing}.
_GET = """
if ARGV[3] == '1' then redis.call('INCR', KEYS[2]) end
local key = ARGV[1]
if ARGV[2] == '1' then key = key .. ':gen:' .. (redis.call('GET', KEYS[2]) or '0') end
local value = redis.call('GET', key)
if value then redis.call('INCR', KEYS[1]) end
return {key, value}
"""

# KEYS: the stored key, misses counter. ARGV: value, ttl.
_SET = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return redis.call('INCR', KEYS[2])
"""


def _digest(value: object) -> str:
    data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def flights_key(flt: FlightFilter, first: int, after: str | None = None) -> str:
    """``flights:bounds:{hash}:page:{n}`` of a flights page.

    Filters that select the same states share a key: callsign prefix and country are
    folded as the stores compare them (ASCII case-insensitively). An invalid ``after``
    raises ``InvalidArgument``, as the search itself would.
    """
    normal: dict[str, object] = {"first": first}
    if flt.bbox is not None:
        box = flt.bbox
        normal["bbox"] = [box.south, box.west, box.north, box.east]
    if flt.callsign_prefix:
        normal["callsign"] = fold_ascii(flt.callsign_prefix.strip())
    if flt.origin_country:
        normal["country"] = fold_ascii(flt.origin_country)
    if flt.on_ground is not None:
        normal["on_ground"] = flt.on_ground
    if flt.since is not None:
        normal["since"] = flt.since.timestamp()
    page = "0" if after is None else cursor.decode("flights", after)
    if not isinstance(page, str):
        raise cursor.invalid(after)
    return f"flights:bounds:{_digest(normal)}:page:{page}"


def airport_key(icao_code: str) -> str:
    return f"airport:{icao_code.strip().upper()}"


def analytics_key(kind: str, timerange: str, params: Mapping[str, object]) -> str:
    return f"analytics:{kind}:{timerange}:{_digest(dict(params))}"


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Hits and misses of every process sharing the Redis."""

    hits: int
    misses: int

    @property
    def hit_ratio(self) -> float | None:
        total = self.hits + self.misses
        return None if total == 0 else self.hits / total


class ResponseCache:
    """Cache-aside over ``client`` (and ``aclient`` for the async variant, if given;
    without it the async variant runs Redis calls in a thread). Thread-safe: counters may
    miss an increment under races, nothing worse.
    """

    def __init__(
        self,
        client: RedisClient,
        *,
        aclient: AsyncRedisClient | None = None,
        ttl_s: int = 30,
        retry_after_s: float = 2.0,
    ) -> None:
        self._client = client
        self._aclient = aclient
        self.ttl_s = ttl_s
        self._breaker = Breaker(retry_after_s)
        self._owed_invalidation = False
        self.hits = 0
        self.misses = 0
        self.errors = 0

    @property
    def healthy(self) -> bool:
        """False from a Redis failure until the next successful call."""
        return self._breaker.healthy

    def get_or_set(self, key: str, compute: Callable[[], T]) -> T:
        """The cached value of ``key``, else ``compute()`` stored for ``ttl_s``."""
        args = self._lookup_args(key)
        hit, stored_key = self._parse(self._reply(args), args)
        if hit is not None:
            return cast(T, hit[0])
        value = compute()
        if stored_key is not None:
            self._reply(self._store_args(stored_key, value))
        return value

    async def get_or_set_async(self, key: str, compute: Callable[[], Awaitable[T]]) -> T:
        """``get_or_set`` for a coroutine ``compute``."""
        args = self._lookup_args(key)
        hit, stored_key = self._parse(await self._areply(args), args)
        if hit is not None:
            return cast(T, hit[0])
        value = await compute()
        if stored_key is not None:
            await self._areply(self._store_args(stored_key, value))
        return value

    def invalidate_flights(self) -> None:
        """Retire every cached flights page (all processes), by bumping the generation."""
        if self._reply(["INCR", GENERATION_KEY]) is None:
            self._owed_invalidation = True  # done by the next lookup that reaches Redis

    def on_event(self, event: Event) -> None:
        """Bus handler: a cycle that stored states makes every flights page stale."""
        if isinstance(event, FlightDataProcessed) and (event.stored or event.changed):
            self.invalidate_flights()

    def stats(self) -> CacheStats | None:
        """Fleet-wide counters; ``None`` when Redis cannot be read."""
        found = self._reply(["MGET", HITS_KEY, MISSES_KEY])
        if found is None:
            return None
        hits, misses = (int(v or 0) for v in found)
        return CacheStats(hits=hits, misses=misses)

    # --- one Redis call, shared by the sync and async paths ---

    def _lookup_args(self, key: str) -> list[Any]:
        versioned = "1" if key.startswith("flights:") else "0"
        owed = "1" if self._owed_invalidation else "0"
        return ["EVAL", _GET, 2, HITS_KEY, GENERATION_KEY, key, versioned, owed]

    def _store_args(self, stored_key: str, value: object) -> list[Any]:
        return ["EVAL", _SET, 2, stored_key, MISSES_KEY, orjson.dumps(value), self.ttl_s]

    def _parse(self, found: Any, args: list[Any]) -> tuple[tuple[Any] | None, str | None]:
        """``((value,), None)`` on a hit, else ``(None, key to store under or None)``."""
        if found is None:
            return None, None
        if args[-1] == "1":
            self._owed_invalidation = False
        stored_key, raw = found[0].decode(), found[1] if len(found) > 1 else None
        if raw is not None:
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                self.errors += 1
                log.warning("cache: %s does not hold JSON; recomputing", stored_key)
            else:
                self.hits += 1
                return (value,), None
        self.misses += 1
        return None, stored_key

    def _reply(self, args: list[Any]) -> Any:
        """The reply to the command ``args``; ``None`` when Redis failed or is skipped."""
        if not self._breaker.allow():
            return None
        try:
            reply = self._client.execute_command(*args)
        except RedisError as exc:
            return self._failed(exc)
        self._breaker.succeeded()
        return reply

    async def _areply(self, args: list[Any]) -> Any:
        if self._aclient is None:
            return await offload(self._reply, args)
        if not self._breaker.allow():
            return None
        try:
            reply = await self._aclient.execute_command(*args)
        except RedisError as exc:
            return self._failed(exc)
        self._breaker.succeeded()
        return reply

    def _failed(self, exc: RedisError) -> None:
        self.errors += 1
        self._breaker.failed()
        log.warning("cache: Redis failed, serving without it: %s", exc)
