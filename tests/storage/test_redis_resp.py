"""The small Redis client of the request path: replies of every RESP2 kind, split anywhere
across reads, and real commands against the tests' own Redis (DB 6)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from testredis import redis_url

from storage.redis.resp import RedisReplyError, RespClient, _Protocol, encode

# DB 6 of the tests' own server (testredis); the tests flush nothing else.
REDIS_URL = redis_url(6)


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


REPLIES = (
    b"+OK\r\n"
    b":-42\r\n"
    b"$5\r\nhello\r\n"
    b"$-1\r\n"
    b"*-1\r\n"
    b"*4\r\n:1\r\n:2\r\n$2\r\nab\r\n*2\r\n:3\r\n+x\r\n"
    b"-NOSCRIPT No matching script\r\n"
    b"$0\r\n\r\n"
)
EXPECTED: list[Any] = [b"OK", -42, b"hello", None, None, [1, 2, b"ab", [3, b"x"]], "NOSCRIPT", b""]


def _feed(chunks: list[bytes]) -> list[Any]:
    async def run() -> list[Any]:
        client = RespClient("redis://127.0.0.1:1")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in EXPECTED]
        client.pending.extend((f, 0.0) for f in futures)
        protocol = _Protocol(client)
        for chunk in chunks:
            protocol.data_received(chunk)
        return [f.result() for f in futures]

    return [r.kind if isinstance(r, RedisReplyError) else r for r in asyncio.run(run())]


@pytest.mark.parametrize("size", [1, 2, 3, 7, len(REPLIES)])
def test_replies_are_parsed_however_they_are_split(size: int) -> None:
    chunks = [REPLIES[i : i + size] for i in range(0, len(REPLIES), size)]

    assert _feed(chunks) == EXPECTED


def test_commands_are_encoded_as_bulk_strings() -> None:
    assert encode(("SET", "k", 1.5, b"\r\n")) == (
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n1.5\r\n$2\r\n\r\n\r\n"
    )


def test_commands_against_redis(redis_db: redis.Redis) -> None:
    async def run() -> list[Any]:
        client = RespClient(REDIS_URL)
        try:
            return await asyncio.gather(
                client.call("SET", "flightdata:test", "v\r\n"),
                client.call("GET", "flightdata:test"),
                client.call("INCR", "flightdata:test"),
                client.call("MGET", "flightdata:test", "flightdata:none"),
            )
        finally:
            await client.aclose()

    ok, value, error, values = asyncio.run(run())

    assert (ok, value, values) == (b"OK", b"v\r\n", [b"v\r\n", None])
    assert isinstance(error, RedisReplyError)
    assert redis_db.get("flightdata:test") == b"v\r\n"  # the right DB
