"""The cycle channel: each ingest cycle published once, every API process listening.

Channel ``flightdata:cycles`` (Redis pub/sub, not a stream): a message reaches the
processes subscribed at that moment and no others. A listener that lost its connection
misses what was published until it resubscribed; ``on_subscribed`` tells it when it is
back, so that it can resend the current state to its clients instead of a missed delta.
A server that keeps the connection open but stops answering (hung, or the connection
half-open) is found by a ``PING`` after ``silence_s`` without a message: no answer
within ``answer_s`` counts as a lost connection.
Messages are opaque bytes; their format belongs to the subscriptions code.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

from storage.base import StoreUnavailable
from storage.redis import AsyncPubSub, AsyncRedisClient

log = logging.getLogger(__name__)

CHANNEL = "flightdata:cycles"
# A blocked read wakes this often to notice a dead connection and cancellation.
_POLL_S = 1.0


class Publisher(Protocol):
    def execute_command(self, *args: Any, **options: Any) -> Any: ...


class RedisBroadcaster:
    """Publishes with the synchronous ``client`` (the ingest thread); listens with the
    ``redis.asyncio`` client ``aclient`` (the API's event loop). Thread-safe.
    """

    def __init__(
        self,
        client: Publisher,
        channel: str = CHANNEL,
        *,
        aclient: AsyncRedisClient | None = None,
        backoff_s: tuple[float, float] = (0.1, 5.0),
        silence_s: float = 5.0,
        answer_s: float = 2.0,
    ) -> None:
        self._client = client
        self._aclient = aclient
        self.channel = channel
        self._backoff = backoff_s
        self._silence_s = silence_s
        self._answer_s = answer_s
        self.reconnects = 0

    def publish(self, message: bytes) -> int:
        """Send ``message`` to every listener; returns how many Redis delivered it to."""
        try:
            receivers = self._client.execute_command("PUBLISH", self.channel, message)
        except RedisError as exc:
            raise StoreUnavailable(f"publishing on {self.channel} failed: {exc}") from exc
        return int(receivers)

    async def listen(
        self, *, on_subscribed: Callable[[], None] | None = None
    ) -> AsyncIterator[bytes]:
        """Every message published from now on, forever; resubscribes after a dropped
        connection, waiting ``backoff_s[0]`` doubling up to ``backoff_s[1]`` (jittered)
        between attempts. ``on_subscribed`` runs once Redis confirmed each (re)subscription.
        """
        if self._aclient is None:
            raise RuntimeError("RedisBroadcaster.listen needs the redis.asyncio client aclient")
        delay = self._backoff[0]
        while True:
            pubsub = self._aclient.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                heard, pinged = time.monotonic(), False
                while True:
                    silent = time.monotonic() - heard
                    if silent >= self._silence_s + self._answer_s:
                        raise ConnectionError(f"no answer from Redis for {silent:.1f} s")
                    if silent >= self._silence_s and not pinged:
                        await pubsub.ping()
                        pinged = True
                    deadline = self._silence_s + (self._answer_s if pinged else 0.0)
                    wait = min(_POLL_S, max(deadline - silent, 0.01))
                    message = await pubsub.get_message(timeout=wait)
                    if message is None:
                        continue
                    heard, pinged = time.monotonic(), False
                    if message["type"] == "message":
                        yield message["data"]
                    elif message["type"] == "subscribe":  # confirmed: from now on, nothing lost
                        delay = self._backoff[0]
                        if on_subscribed is not None:
                            on_subscribed()
            except (RedisError, OSError) as exc:
                self.reconnects += 1
                log.warning(
                    "%s: connection lost (%s); resubscribing in %.1f s", self.channel, exc, delay
                )
            finally:
                await _close(pubsub)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._backoff[1])


async def _close(pubsub: AsyncPubSub) -> None:
    try:
        await pubsub.aclose()
    except (RedisError, OSError) as exc:  # the connection is gone already
        log.debug("closing a lost subscription: %s", exc)
