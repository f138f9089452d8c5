"""Token buckets: in this process, and in the real redis-server (DB 8) through the Lua
script, atomic under concurrent callers; and the fallback while Redis is down."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
import redis
from securitykit import REDIS_URL

from security import ratelimit
from security.ratelimit import (
    KEY_PREFIX,
    FallbackLimiter,
    LocalBuckets,
    RedisBuckets,
    Tier,
    headers,
)
from storage.redis.resp import RedisUnavailable, RespClient

TIER = Tier("test", rate=2.0, burst=5)
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_local_bucket_refills_at_its_rate() -> None:
    clock = Clock()
    buckets = LocalBuckets(clock=clock)

    taken = [buckets.take("ip:a", TIER) for _ in range(6)]
    assert [d.allowed for d in taken] == [True] * 5 + [False]
    assert [d.remaining for d in taken] == [4, 3, 2, 1, 0, 0]
    assert taken[-1].retry_after_s == pytest.approx(0.5)
    assert taken[-1].reset_s == pytest.approx(2.5)
    assert buckets.take("ip:b", TIER).allowed  # another client, another bucket

    clock.now += 0.5
    assert buckets.take("ip:a", TIER).allowed
    assert not buckets.take("ip:a", TIER).allowed
    clock.now += 3600
    assert buckets.take("ip:a", TIER).remaining == 4  # full again, never above the burst


def test_local_buckets_stay_bounded() -> None:
    clock = Clock()
    buckets = LocalBuckets(max_clients=100, clock=clock)
    for n in range(1000):
        buckets.take(f"ip:{n}", TIER)
        clock.now += 1.0
    assert len(buckets._buckets) <= 100


def test_headers_round_up_to_whole_seconds() -> None:
    clock = Clock()
    buckets = LocalBuckets(clock=clock)
    for _ in range(5):
        buckets.take("ip:a", TIER)
    refused = buckets.take("ip:a", TIER)

    assert dict(headers(refused)) == {
        b"ratelimit-limit": b"5",
        b"ratelimit-remaining": b"0",
        b"ratelimit-reset": b"3",
        b"retry-after": b"1",
    }


def test_the_redis_bucket_lets_exactly_its_burst_through_concurrent_callers(
    redis_db: redis.Redis,
) -> None:
    async def run() -> list[bool]:
        client = RespClient(REDIS_URL)
        buckets = RedisBuckets(client)
        tier = Tier("slow", rate=0.001, burst=20)
        try:
            decisions = await asyncio.gather(*(buckets.acquire("key:k", tier) for _ in range(50)))
        finally:
            await client.aclose()
        return [d.allowed for d in decisions]

    allowed = asyncio.run(run())

    assert allowed.count(True) == 20
    assert allowed[:20] == [True] * 20  # one connection, answered in order
    ttl = redis_db.pttl(KEY_PREFIX + "key:k")
    assert 0 < ttl <= 20_000 * 1000 + 1000  # gone once it would be full again


def test_the_redis_bucket_reports_what_the_headers_need(redis_db: redis.Redis) -> None:
    async def run() -> list[ratelimit.Decision]:
        client = RespClient(REDIS_URL)
        try:
            buckets = RedisBuckets(client)
            return [await buckets.acquire("ip:1.2.3.4", TIER) for _ in range(6)]
        finally:
            await client.aclose()

    decisions = asyncio.run(run())

    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    refused = decisions[5]
    assert not refused.allowed
    assert refused.limit == 5
    assert 0.4 < refused.retry_after_s <= 0.5
    assert 2.0 < refused.reset_s <= 2.5


def test_a_script_redis_does_not_hold_is_sent_again(
    redis_db: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A script body Redis has never seen: EVALSHA answers NOSCRIPT, as after a restart.
    script = ratelimit.SCRIPT + f"\n-- {id(redis_db)}\n"
    monkeypatch.setattr(ratelimit, "SCRIPT", script)
    monkeypatch.setattr(ratelimit, "SCRIPT_SHA", hashlib.sha1(script.encode()).hexdigest())

    async def run() -> bool:
        client = RespClient(REDIS_URL)
        try:
            return (await RedisBuckets(client).acquire("ip:x", TIER)).allowed
        finally:
            await client.aclose()

    assert asyncio.run(run())
    assert redis_db.script_exists(ratelimit.SCRIPT_SHA) == [True]


def test_without_redis_the_process_limits_on_its_own() -> None:
    async def run() -> tuple[list[bool], bool, int]:
        client = RespClient(DEAD_REDIS)
        limiter = FallbackLimiter(RedisBuckets(client), LocalBuckets())
        allowed = [(await limiter.acquire("ip:a", TIER)).allowed for _ in range(7)]
        return allowed, limiter.degraded, limiter.failures

    allowed, degraded, failures = asyncio.run(run())

    assert allowed == [True] * 5 + [False] * 2
    assert degraded
    assert failures == 1  # then Redis is left alone for a while


def test_a_call_to_a_dead_redis_fails_fast() -> None:
    async def run() -> None:
        await RespClient(DEAD_REDIS, timeout_s=0.1).call("PING")

    with pytest.raises(RedisUnavailable):
        asyncio.run(asyncio.wait_for(run(), 2))
