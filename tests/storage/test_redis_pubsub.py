"""The cycle channel over a real redis-server: delivery, and resubscription after the
server drops the listener's connection (``CLIENT KILL`` of that connection only)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from testredis import redis_url

from storage.base import StoreUnavailable
from storage.redis import connect, connect_async
from storage.redis.pubsub import RedisBroadcaster

# DB 13 of the tests' own server (testredis); the tests flush nothing else.
REDIS_URL = os.environ.get("FLIGHTDATA_TEST_REDIS_URL") or redis_url(13)


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    conn = connect(REDIS_URL)
    try:
        conn.ping()
    except redis.RedisError as exc:
        pytest.fail(f"the Redis tests need redis-server at {REDIS_URL}: {exc}")
    yield conn
    conn.close()


class Listener:
    """Runs ``listen()`` in a task, keeping what arrives and when it (re)subscribed."""

    def __init__(self, broadcaster: RedisBroadcaster) -> None:
        self.received: list[bytes] = []
        self.subscriptions = 0
        self._task = asyncio.create_task(self._run(broadcaster))

    async def _run(self, broadcaster: RedisBroadcaster) -> None:
        async for message in broadcaster.listen(on_subscribed=self._subscribed):
            self.received.append(message)

    def _subscribed(self) -> None:
        self.subscriptions += 1

    async def until(self, done: Callable[[], object], timeout: float = 15.0) -> None:
        """Wait for ``done()``, which may depend on other listeners too: polled, not
        woken only by this listener's own events."""

        async def wait() -> None:
            while not done():
                await asyncio.sleep(0.01)

        await asyncio.wait_for(wait(), timeout)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def test_published_messages_reach_listeners(client: redis.Redis) -> None:
    channel = f"test:cycles:{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        aclient = connect_async(REDIS_URL)
        broadcaster = RedisBroadcaster(client, channel, aclient=aclient)
        first, second = Listener(broadcaster), Listener(broadcaster)
        try:
            await first.until(lambda: first.subscriptions and second.subscriptions)
            assert broadcaster.publish(b'{"cycle": 1}') == 2
            await first.until(lambda: first.received)
            await second.until(lambda: second.received)
            assert first.received == second.received == [b'{"cycle": 1}']
        finally:
            await first.stop()
            await second.stop()
            await aclient.aclose()

    asyncio.run(run())
    assert RedisBroadcaster(client, channel).publish(b"nobody listens") == 0


def test_listener_resubscribes_after_a_dropped_connection(client: redis.Redis) -> None:
    channel = f"test:cycles:{uuid.uuid4().hex[:8]}"
    name = f"flightdata-test-{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        aclient = connect_async(REDIS_URL, client_name=name)
        broadcaster = RedisBroadcaster(client, channel, aclient=aclient, backoff_s=(0.01, 0.1))
        listener = Listener(broadcaster)
        try:
            await listener.until(lambda: listener.subscriptions == 1)
            broadcaster.publish(b"before")
            await listener.until(lambda: listener.received == [b"before"])
            for conn in client.client_list():
                if conn["name"] == name:
                    client.client_kill_filter(_id=conn["id"])
            await listener.until(lambda: listener.subscriptions == 2)
            broadcaster.publish(b"after")
            await listener.until(lambda: listener.received == [b"before", b"after"])
            assert broadcaster.reconnects == 1
        finally:
            await listener.stop()
            await aclient.aclose()

    asyncio.run(run())


def test_publishing_to_a_dead_redis_is_store_unavailable() -> None:
    dead = connect("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(StoreUnavailable):
            RedisBroadcaster(dead).publish(b"lost")
    finally:
        dead.close()


def test_listen_needs_the_async_client(client: redis.Redis) -> None:
    async def run() -> None:
        with pytest.raises(RuntimeError, match="aclient"):
            await anext(aiter(RedisBroadcaster(client).listen()))

    asyncio.run(run())
