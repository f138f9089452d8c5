"""Token buckets per client: in Redis for every process at once, or in this process.

Each client (``key:<id>`` or ``ip:<address>``) has a bucket of its tier's ``burst`` tokens,
refilled at ``rate`` tokens a second; a request takes one token or is refused with the time
until one is back. A ``Decision`` carries what the ``RateLimit-*`` headers report:
``limit`` (the bucket size), ``remaining`` (whole tokens left) and ``reset_s`` (seconds until
the bucket is full again).

Redis: string ``flightdata:rl:{client}`` holding "<milli-tokens> <ms>", read and written by
one Lua script run with EVALSHA, so that a check is atomic and one round trip. The
script reads Redis's own clock (``TIME``), so the API processes' clocks need not agree; the
key expires once its bucket would be full again, so idle clients cost no memory. When Redis
is down, the process's own buckets answer (``FallbackLimiter``): limits then hold per
process, not per fleet, until Redis is back.

Thread-safety: ``LocalBuckets`` is for one event loop (no awaits inside a check);
``RedisBuckets`` too, as its ``RespClient``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from storage.redis.resp import RedisReplyError, RedisUnavailable, RespClient, encode

log = logging.getLogger(__name__)

KEY_PREFIX = "flightdata:rl:"

# KEYS[1]: the bucket, "<milli-tokens> <ms>". ARGV: rate (tokens/s), burst, cost (tokens).
# Returns {allowed 0|1, whole tokens left, ms until a retry can pass, ms until full}.
SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2]) * 1000
local cost = tonumber(ARGV[3]) * 1000
local clock = redis.call('TIME')
local now = clock[1] * 1000 + math.floor(clock[2] / 1000)
local tokens = burst
local held = redis.call('GET', KEYS[1])
if held then
  local t, last = string.match(held, '^(%d+) (%d+)$')
  if t then
    tokens = math.min(burst, tonumber(t) + math.max(0, now - tonumber(last)) * rate)
  end
end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) / rate)
end
tokens = math.floor(tokens)
local full = math.ceil((burst - tokens) / rate)
redis.call('SET', KEYS[1], string.format('%d %d', tokens, now), 'PX', full + 1000)
return {allowed, math.floor(tokens / 1000), retry, full}
"""
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    rate: float  # tokens a second
    burst: int


def tiers_from(settings_tiers: Iterable[tuple[str, float, int]]) -> dict[str, Tier]:
    return {name: Tier(name, rate, burst) for name, rate, burst in settings_tiers}


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: float
    retry_after_s: float = 0.0


class RateLimiter(Protocol):
    async def acquire(self, client: str, tier: Tier) -> Decision: ...


class LocalBuckets:
    """Buckets in this process (the embedded default, and the fallback for Redis)."""

    def __init__(
        self, *, max_clients: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._max_clients = max_clients
        self._clock = clock

    async def acquire(self, client: str, tier: Tier) -> Decision:
        return self.take(client, tier)

    def take(self, client: str, tier: Tier, cost: float = 1.0) -> Decision:
        now = self._clock()
        held = self._buckets.get(client)
        tokens = (
            tier.burst if held is None else min(tier.burst, held[0] + (now - held[1]) * tier.rate)
        )
        allowed = tokens >= cost
        if allowed:
            tokens -= cost
        if held is None and len(self._buckets) >= self._max_clients:
            self._forget_full(now)
        self._buckets[client] = (tokens, now)
        return Decision(
            allowed=allowed,
            limit=tier.burst,
            remaining=int(tokens),
            reset_s=(tier.burst - tokens) / tier.rate,
            retry_after_s=0.0 if allowed else (cost - tokens) / tier.rate,
        )

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (a new bucket is full: nothing changes); if none
        have, drop the oldest half, erring towards letting requests through."""
        # Tiers differ per client; a bucket idle for an hour is full under any tier here.
        stale = [c for c, (_, at) in self._buckets.items() if now - at > 3600.0]
        for client in stale:
            del self._buckets[client]
        if len(self._buckets) >= self._max_clients:
            by_age = sorted(self._buckets.items(), key=lambda kv: kv[1][1])
            for client, _ in by_age[: len(by_age) // 2]:
                del self._buckets[client]


class RedisBuckets:
    """Buckets in Redis, shared by every process; raises ``RedisUnavailable``."""

    def __init__(self, client: RespClient, *, max_cached: int = 10_000) -> None:
        self._client = client
        # The encoded EVALSHA of each (client, tier): a request's command is a lookup.
        self._commands: dict[tuple[str, Tier], bytes] = {}
        self._max_cached = max_cached

    def _command(self, client: str, tier: Tier) -> bytes:
        command = self._commands.get((client, tier))
        if command is None:
            if len(self._commands) >= self._max_cached:
                self._commands.clear()
            args = ("EVALSHA", SCRIPT_SHA, 1, KEY_PREFIX + client, tier.rate, tier.burst, 1)
            command = self._commands[(client, tier)] = encode(args)
        return command

    async def acquire(self, client: str, tier: Tier) -> Decision:
        key = KEY_PREFIX + client
        reply = await self._client.call_encoded(self._command(client, tier))
        if isinstance(reply, RedisReplyError):
            if reply.kind != "NOSCRIPT":
                raise RedisUnavailable(f"rate limit script failed: {reply}")
            # Redis restarted or its scripts were flushed: EVAL sends (and caches) it.
            reply = await self._client.call("EVAL", SCRIPT, 1, key, tier.rate, tier.burst, 1)
            if isinstance(reply, RedisReplyError):
                raise RedisUnavailable(f"rate limit script failed: {reply}")
        allowed, remaining, retry_ms, full_ms = reply
        return Decision(
            allowed=allowed == 1,
            limit=tier.burst,
            remaining=remaining,
            reset_s=full_ms / 1000.0,
            retry_after_s=retry_ms / 1000.0,
        )


class FallbackLimiter:
    """Redis first; this process's buckets while Redis is failing (retried after
    ``retry_after_s``)."""

    def __init__(
        self, primary: RedisBuckets, fallback: LocalBuckets, *, retry_after_s: float = 2.0
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._retry_after_s = retry_after_s
        self._down_until = 0.0
        self.failures = 0

    @property
    def degraded(self) -> bool:
        return self._down_until > time.monotonic()

    async def acquire(self, client: str, tier: Tier) -> Decision:
        if self._down_until and time.monotonic() < self._down_until:
            return self._fallback.take(client, tier)
        try:
            decision = await self._primary.acquire(client, tier)
        except RedisUnavailable as exc:
            self.failures += 1
            if not self._down_until:
                log.warning("rate limits: Redis unavailable (%s); limiting per process", exc)
            self._down_until = time.monotonic() + self._retry_after_s
            return self._fallback.take(client, tier)
        if self._down_until:
            log.info("rate limits: Redis is back")
            self._down_until = 0.0
        return decision


def headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    """``RateLimit-Limit``/``-Remaining``/``-Reset`` (draft-ietf-httpapi-ratelimit-headers),
    and ``Retry-After`` on a refusal; whole seconds, rounded up."""
    out = [
        (b"ratelimit-limit", b"%d" % decision.limit),
        (b"ratelimit-remaining", b"%d" % decision.remaining),
        (b"ratelimit-reset", b"%d" % math.ceil(decision.reset_s)),
    ]
    if not decision.allowed:
        out.append((b"retry-after", b"%d" % max(1, math.ceil(decision.retry_after_s))))
    return out


def opensky_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    """The same decision in the OpenSky REST API's names: ``X-Rate-Limit-Remaining``, and
    ``X-Rate-Limit-Retry-After-Seconds`` on a refusal (whole seconds, rounded up), which
    OpenSky's clients read to wait instead of failing."""
    out = [(b"x-rate-limit-remaining", b"%d" % decision.remaining)]
    if not decision.allowed:
        wait = max(1, math.ceil(decision.retry_after_s))
        out.append((b"x-rate-limit-retry-after-seconds", b"%d" % wait))
    return out
