"""The hub of one API process: each cycle filtered for every subscriber, slow ones
isolated, and the channel between processes over a real redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
import redis
from testredis import redis_url

from api.foreground import CountRequests, Foreground
from domain import BoundingBox, FlightState
from live import channel as channel_module
from live import subscribers
from live.channel import InProcessBroadcaster, RedisCycleChannel
from live.cycle_update import CycleUpdate
from live.filtering import UpdateFilter
from live.subscribers import SLICE_SUBSCRIBERS, YIELD_BUDGET_S, Batch, UpdateHub
from storage.base import StoreUnavailable
from storage.redis import connect, connect_async
from storage.redis.pubsub import RedisBroadcaster
from testkit import T0, make_state

REDIS_URL = redis_url(13)
EUROPE = UpdateFilter(bbox=BoundingBox(35, -10, 70, 30))
ASIA = UpdateFilter(bbox=BoundingBox(0, 60, 60, 150))


def _cycle(n: int) -> CycleUpdate:
    at = T0 + timedelta(seconds=10 * n)
    states = [
        make_state("aaaaaa", time=at, latitude=48.0 + n / 100, longitude=2.0, region="europe"),
        make_state("bbbbbb", time=at, latitude=35.0, longitude=139.0 + n / 100, region="asia"),
    ]
    return CycleUpdate(f"cycle-{n}", at, states)


async def _until(done: Callable[[], object], timeout: float = 10.0) -> None:
    async def wait() -> None:
        while not done():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(wait(), timeout)


@contextlib.asynccontextmanager
async def _running(hub: UpdateHub) -> AsyncIterator[UpdateHub]:
    task = asyncio.create_task(hub.run())
    try:
        await asyncio.wait_for(hub.ready.wait(), 10)
        yield hub
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _publish_from_a_thread(broadcaster: InProcessBroadcaster, *updates: CycleUpdate) -> None:
    """As the pipeline does: from its worker thread, not the event loop."""
    thread = threading.Thread(target=lambda: [broadcaster.publish(u) for u in updates])
    thread.start()
    thread.join()


def test_each_subscriber_gets_the_states_inside_its_filter_every_cycle() -> None:
    async def run() -> None:
        broadcaster = InProcessBroadcaster()
        async with _running(UpdateHub(broadcaster, live_window_s=300)) as hub:
            with hub.subscribe(EUROPE) as europe, hub.subscribe(ASIA) as asia:
                _publish_from_a_thread(broadcaster, _cycle(1), _cycle(2))
                for n in (1, 2):
                    batch = await asyncio.wait_for(europe.next(), 5)
                    assert batch.cycle_id == f"cycle-{n}"
                    assert [s.icao24 for s in batch.flights] == ["aaaaaa"]
                    batch = await asyncio.wait_for(asia.next(), 5)
                    assert [s.icao24 for s in batch.flights] == ["bbbbbb"]
                assert hub.cycles == 2
            assert not hub.subscribers

    asyncio.run(run())


def test_a_stalled_subscriber_loses_its_oldest_batches_and_delays_nobody() -> None:
    async def run() -> None:
        broadcaster = InProcessBroadcaster()
        async with _running(UpdateHub(broadcaster, live_window_s=300, queue_size=2)) as hub:
            with hub.subscribe(EUROPE) as stalled, hub.subscribe(EUROPE) as keeping_up:
                got: list[str] = []
                for n in range(1, 6):
                    _publish_from_a_thread(broadcaster, _cycle(n))
                    got.append((await asyncio.wait_for(keeping_up.next(), 5)).cycle_id)
                assert got == [f"cycle-{n}" for n in range(1, 6)]
                assert keeping_up.dropped == 0
                # The stalled one kept only the two newest; the next it takes says so.
                assert stalled.dropped == 3
                first = await stalled.next()
                assert (first.cycle_id, first.dropped) == ("cycle-4", 3)
                second = await stalled.next()
                assert (second.cycle_id, second.dropped) == ("cycle-5", 0)
                assert hub.dropped == 3

    asyncio.run(run())


class _Reconnecting:
    """A channel that confirms its subscription, delivers, then reconnects once."""

    def __init__(self, updates: list[CycleUpdate]) -> None:
        self.updates = updates

    def publish(self, update: CycleUpdate) -> None:  # pragma: no cover - not published to
        raise AssertionError

    async def listen(
        self, *, on_subscribed: Callable[[], None] | None = None
    ) -> AsyncIterator[CycleUpdate]:
        assert on_subscribed is not None
        on_subscribed()
        await asyncio.sleep(0.05)
        yield self.updates[0]
        on_subscribed()  # back after a dropped connection: cycles may have been missed
        yield self.updates[1]
        await asyncio.Event().wait()


def test_after_the_channel_reconnects_subscribers_are_told_to_resync() -> None:
    async def run() -> None:
        hub = UpdateHub(_Reconnecting([_cycle(1), _cycle(3)]), live_window_s=300)
        with hub.subscribe(EUROPE) as sub:
            async with _running(hub):
                batches = [await asyncio.wait_for(sub.next(), 5) for _ in range(3)]
        # The resync comes before anything received after the reconnection.
        assert [(b.cycle_id, b.resync) for b in batches] == [
            ("cycle-1", False),
            ("cycle-1", True),
            ("cycle-3", False),
        ]

    asyncio.run(run())


def test_aircraft_not_heard_from_within_the_live_window_are_removed() -> None:
    async def run() -> None:
        broadcaster = InProcessBroadcaster()
        async with _running(UpdateHub(broadcaster, live_window_s=60)) as hub:
            with hub.subscribe(EUROPE) as sub:
                _publish_from_a_thread(broadcaster, _cycle(0))
                assert [s.icao24 for s in (await sub.next()).flights] == ["aaaaaa"]
                # Only Asia is heard from for two minutes: the European one went stale.
                later = T0 + timedelta(seconds=120)
                quiet = CycleUpdate(
                    "quiet", later, [make_state("bbbbbb", time=later, latitude=35, longitude=139)]
                )
                _publish_from_a_thread(broadcaster, quiet)
                batch = await asyncio.wait_for(sub.next(), 5)
                assert (batch.flights, batch.removed) == ([], ["aaaaaa"])

    asyncio.run(run())


def test_the_numbers_of_aircraft_gone_stale_go_to_new_ones_without_mixing_them_up() -> None:
    """Each cycle 40 aircraft appear (until cycle 8), each heard for three cycles, moving
    in and out of the box, and go stale two cycles later: the hub numbers only the
    aircraft it may still hold, and a subscriber told what left never gets one that took
    the number of one that went."""
    hub = UpdateHub(InProcessBroadcaster(), live_window_s=25)
    counts = []
    with hub.subscribe(UpdateFilter(bbox=BoundingBox(40, 0, 60, 20))) as sub:
        inside: set[str] = set()
        for n in range(11):
            at = T0 + timedelta(seconds=10 * n)
            heard = {
                f"{k:03x}{i:03x}": make_state(
                    f"{k:03x}{i:03x}", time=at, latitude=30.0 + (i + n) % 3 * 20, longitude=5.0
                )
                for k in range(max(0, n - 2), min(n, 8) + 1)
                for i in range(40)
            }  # at 50° inside the box, at 30° and 70° outside
            hub.dispatch(CycleUpdate(f"cycle-{n}", at, list(heard.values())))
            counts.append(len(hub.numbers))
            got = asyncio.run(sub.next())
            shown = {s.icao24 for s in got.flights}
            assert shown == {code for code, s in heard.items() if s.latitude == 50.0}
            moved = {code for code in inside if code in heard and code not in shown}
            # Last heard in cycle k + 2, more than 25 s before cycle n: k < n - 4.
            stale = {code for code in inside - moved if int(code[:3], 16) < n - 4}
            assert got.removed == sorted(moved) + sorted(stale)
            inside = (inside - moved - stale) | shown
            assert set(sub.view.codes()) == inside
    # At most the aircraft of the live window and the last cycle's stale ones.
    assert max(counts) <= 40 * 6
    assert counts[-1] < counts[7]  # none new after cycle 8: the stale ones' numbers went


@pytest.fixture
def redis_client() -> redis.Redis:
    conn = connect(REDIS_URL)
    try:
        conn.ping()
    except redis.RedisError as exc:
        pytest.fail(f"the Redis tests need redis-server at {REDIS_URL}: {exc}")
    return conn


def test_updates_cross_redis_to_every_listening_hub(redis_client: redis.Redis) -> None:
    channel = f"test:cycles:{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        clients = [connect_async(REDIS_URL) for _ in "ab"]
        hubs = [
            UpdateHub(
                RedisCycleChannel(RedisBroadcaster(redis_client, channel, aclient=c)),
                live_window_s=300,
            )
            for c in clients
        ]
        try:
            async with _running(hubs[0]), _running(hubs[1]):
                with hubs[0].subscribe(EUROPE) as a, hubs[1].subscribe(ASIA) as b:
                    publisher = RedisCycleChannel(RedisBroadcaster(redis_client, channel))
                    await asyncio.to_thread(publisher.publish, _cycle(1))
                    got_a = await asyncio.wait_for(a.next(), 10)
                    got_b = await asyncio.wait_for(b.next(), 10)
        finally:
            for c in clients:
                await c.aclose()
        assert [s.icao24 for s in got_a.flights] == ["aaaaaa"]
        assert [s.icao24 for s in got_b.flights] == ["bbbbbb"]
        assert got_a.flights[0].model_dump() == _cycle(1).states[0].model_dump()

    asyncio.run(run())
    redis_client.close()


def test_an_update_from_redis_is_decoded_a_few_states_at_a_time_letting_requests_go_first(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cycle's states from Redis are decoded ``READ_ROWS`` at a time, with ``yield_to``
    awaited between two parts, as a store poll reads them."""
    monkeypatch.setattr(channel_module, "READ_ROWS", 2)
    channel = f"test:cycles:{uuid.uuid4().hex[:8]}"
    waits: list[float] = []

    async def yield_to(max_wait_s: float) -> float:
        waits.append(max_wait_s)
        return 0.0

    at = T0 + timedelta(seconds=10)
    states = [
        make_state(
            f"{0xA00000 + n:06x}", time=at, latitude=48.0, longitude=2.0 + n / 10, region="europe"
        )
        for n in range(5)
    ]

    async def run() -> Batch:
        client = connect_async(REDIS_URL)
        listening = RedisCycleChannel(
            RedisBroadcaster(redis_client, channel, aclient=client), yield_to=yield_to
        )
        try:
            async with _running(UpdateHub(listening, live_window_s=300)) as hub:
                with hub.subscribe(EUROPE) as sub:
                    publisher = RedisCycleChannel(RedisBroadcaster(redis_client, channel))
                    await asyncio.to_thread(publisher.publish, CycleUpdate("c1", at, states))
                    return await asyncio.wait_for(sub.next(), 10)
        finally:
            await client.aclose()

    batch = asyncio.run(run())
    assert [s.model_dump() for s in batch.flights] == [s.model_dump() for s in states]
    assert waits == [channel_module.READ_WAIT_S] * 2  # three parts: two, two and one
    redis_client.close()


def test_a_cycle_is_offered_in_slices_between_which_other_work_runs() -> None:
    """The fan-out yields to the event loop between slices: work scheduled meanwhile
    (a request) runs before the last subscriber is offered the cycle. Every subscriber
    still gets every cycle, in order."""

    async def run() -> None:
        hub = UpdateHub(InProcessBroadcaster(), live_window_s=300)
        with contextlib.ExitStack() as stack:
            subs = [
                stack.enter_context(hub.subscribe(EUROPE)) for _ in range(5 * SLICE_SUBSCRIBERS)
            ]
            offered_between: list[int] = []
            loop = asyncio.get_running_loop()

            def request() -> None:  # a request's work, arriving again and again
                offered_between.append(sum(1 for s in subs if s._queue))
                if offered_between[-1] < len(subs):
                    loop.call_soon(request)

            loop.call_soon(request)
            await hub.fan_out(_cycle(1))
            await hub.fan_out(_cycle(2))

            # Several turns ran while the cycle was being offered, some between slices.
            assert any(0 < n < len(subs) for n in offered_between)
            assert len(offered_between) >= 5
            for sub in subs:
                batches = [await sub.next(), await sub.next()]
                assert [b.cycle_id for b in batches] == ["cycle-1", "cycle-2"]
                assert [s.icao24 for s in batches[0].flights] == ["aaaaaa"]

    asyncio.run(run())


def test_after_each_cycle_the_hub_runs_its_follow_up_work() -> None:
    """``after_cycle`` runs once each cycle has reached every subscriber; when it fails,
    live updates go on."""

    async def run() -> None:
        broadcaster = InProcessBroadcaster()
        seen: list[int] = []

        async def after() -> None:
            seen.append(len(hub.subscribers))
            if len(seen) == 1:
                raise RuntimeError("the first follow-up fails")

        hub = UpdateHub(broadcaster, live_window_s=60, after_cycle=after)
        async with _running(hub):
            with hub.subscribe(EUROPE) as sub:
                for n in range(3):
                    _publish_from_a_thread(broadcaster, _cycle(n))
                    await asyncio.wait_for(sub.next(), 5)
                    await _until(lambda n=n: len(seen) == n + 1)
        assert seen == [1, 1, 1]

    asyncio.run(run())


def test_a_cycle_waits_for_requests_in_progress_within_its_budget() -> None:
    """With ``yield_to`` (the API's ``Foreground.quiet``), no subscriber is offered the
    cycle while a request is in progress, until it ends; a request that never ends delays
    the cycle by at most ``YIELD_BUDGET_S``, and every subscriber still gets it."""

    async def run() -> None:
        foreground = Foreground()
        hub = UpdateHub(InProcessBroadcaster(), live_window_s=300, yield_to=foreground.quiet)
        with contextlib.ExitStack() as stack:
            subs = [
                stack.enter_context(hub.subscribe(EUROPE)) for _ in range(16 * SLICE_SUBSCRIBERS)
            ]
            foreground.started()
            fan_out = asyncio.create_task(hub.fan_out(_cycle(1)))
            await asyncio.sleep(0.02)
            assert not any(s._queue for s in subs)  # waiting for the request
            foreground.ended()
            await asyncio.wait_for(fan_out, 1)
            assert all(s._queue for s in subs)

            foreground.started()  # a request that does not end
            start = time.perf_counter()
            await asyncio.wait_for(hub.fan_out(_cycle(2)), 5)
            took = time.perf_counter() - start
            assert YIELD_BUDGET_S - 0.01 < took < YIELD_BUDGET_S + 0.5  # the budget, spent
            for sub in subs:
                assert [(await sub.next()).cycle_id for _ in range(2)] == ["cycle-1", "cycle-2"]

    asyncio.run(run())


def test_the_foreground_counts_http_requests_but_not_websockets() -> None:
    foreground = Foreground()
    seen: list[tuple[str, int]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope["type"], foreground.active))
        if scope["type"] == "http":
            raise RuntimeError("a request that fails still ends")

    async def run() -> None:
        counted = CountRequests(app, foreground)
        with pytest.raises(RuntimeError):
            await counted({"type": "http"}, None, None)
        await counted({"type": "websocket"}, None, None)
        assert await foreground.quiet(1.0) == 0.0  # nothing in progress: no wait

    asyncio.run(run())
    assert seen == [("http", 1), ("websocket", 0)]
    assert foreground.active == 0


def _by_code(states: Sequence[FlightState], shown: Sequence[object]) -> dict[str, object]:
    return dict(zip([s.icao24 for s in states], shown, strict=True))


def test_a_subscriber_that_joins_while_a_cycle_is_taken_gets_all_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cycle is taken into the current states in slices; meanwhile readers of the held
    states see the last cycle's, and a subscriber that joins starts from states that hold
    part of the cycle, then is offered the whole of it."""
    monkeypatch.setattr(subscribers, "MERGE_RUN", 1)
    monkeypatch.setattr(subscribers, "SLICE_S", 0.0)

    async def run() -> None:
        hub = UpdateHub(InProcessBroadcaster(), live_window_s=300, load_current=list)
        hub._subscribed()
        await asyncio.wait_for(hub.ready.wait(), 5)
        hub.dispatch(_cycle(1))
        everywhere = UpdateFilter()
        with hub.subscribe(everywhere) as early:
            taking = asyncio.create_task(hub.fan_out(_cycle(2)))
            while hub.newest != _cycle(2).at:  # aaaaaa taken, bbbbbb not yet
                await asyncio.sleep(0)
            held = hub.held_states()
            assert held is not None
            assert held.newest == _cycle(1).at
            with hub.subscribe(everywhere) as late:
                start = {s.icao24: s for s in hub.current().select(everywhere).states}
                assert start["aaaaaa"].last_contact == _cycle(2).at
                assert start["bbbbbb"].last_contact == _cycle(1).at
                await asyncio.wait_for(taking, 5)
                for sub in (early, late):
                    batch = await asyncio.wait_for(sub.next(), 5)
                    assert batch.cycle_id == "cycle-2"
                    assert batch.flights == _cycle(2).states
            held = hub.held_states()
            assert held is not None
            assert list(held.states) == _cycle(2).states

    asyncio.run(run())


def test_the_held_states_are_made_searchable_as_the_hub_takes_a_cycle() -> None:
    """No request waits for the held states to be ordered and positioned: a fan-out
    makes them before it offers the cycle."""

    async def run() -> None:
        hub = UpdateHub(InProcessBroadcaster(), live_window_s=300, load_current=list)
        hub._subscribed()
        await asyncio.wait_for(hub.ready.wait(), 5)
        with hub.subscribe(EUROPE):
            await hub.fan_out(_cycle(1))
            held = hub.held_states()
            assert held is not None
            assert "_rows" in vars(held)
            assert [s.icao24 for s in held.states] == ["aaaaaa", "bbbbbb"]

    asyncio.run(run())


def test_each_state_is_presented_once_however_many_indexes_show_it() -> None:
    """A cycle's index, the current states' and the held states' share what ``present``
    made of each state; an aircraft whose state did not change keeps its object, and one
    that went stale is forgotten."""
    made: list[str] = []

    def present(state: Any) -> object:
        made.append(state.icao24)
        return object()

    async def run() -> None:
        hub = UpdateHub(
            InProcessBroadcaster(), live_window_s=60, load_current=list, present=present
        )
        hub._subscribed()
        await asyncio.wait_for(hub.ready.wait(), 5)
        with hub.subscribe(UpdateFilter()) as sub:
            hub.dispatch(_cycle(1))
            batch = await asyncio.wait_for(sub.next(), 5)
            held = hub.held_states()
            assert held is not None
            by_code = _by_code(batch.flights, batch.shown)
            assert sorted(made) == ["aaaaaa", "bbbbbb"]
            assert _by_code(held.states, held.shown(held.states)) == by_code
            current = hub.current().select(UpdateFilter())
            assert _by_code(current.states, current.shown) == by_code

            moved = _cycle(2).states[0]  # aaaaaa alone, ten seconds on
            hub.dispatch(CycleUpdate("cycle-2", moved.last_contact, [moved]))
            held = hub.held_states()
            assert held is not None
            shown = _by_code(held.states, held.shown(held.states))
            assert sorted(made) == ["aaaaaa", "aaaaaa", "bbbbbb"]
            assert shown["bbbbbb"] is by_code["bbbbbb"]
            assert shown["aaaaaa"] is not by_code["aaaaaa"]

            later = T0 + timedelta(seconds=200)  # aaaaaa goes stale
            quiet = make_state("bbbbbb", time=later, latitude=35, longitude=139)
            hub.dispatch(CycleUpdate("quiet", later, [quiet]))
            assert hub._present_once is not None
            assert len(hub._present_once) == 1

    asyncio.run(run())


def test_a_resync_reads_the_states_again_while_requests_keep_the_held_ones() -> None:
    """While a resync reads the current states from the store again, requests keep
    reading the states the hub holds (``held_for`` bounds how far behind the store they
    may be); snapshots wait for the states read again, which are then held."""
    loaded = threading.Event()
    reading = threading.Event()
    stored: list[FlightState] = []

    def load() -> list[FlightState]:
        reading.set()
        assert loaded.wait(5)
        return list(stored)

    async def run() -> None:
        hub = UpdateHub(InProcessBroadcaster(), live_window_s=300, load_current=load)
        loaded.set()
        hub._subscribed()
        await asyncio.wait_for(hub.ready.wait(), 5)
        hub.dispatch(_cycle(1))
        loaded.clear()
        reading.clear()
        stored.extend(_cycle(2).states)  # a cycle the channel missed
        hub._subscribed()
        await _until(reading.is_set)
        assert not hub.ready.is_set()
        held = hub.held()
        assert held is not None
        assert held[0] == _cycle(1).at
        loaded.set()
        await asyncio.wait_for(hub.ready.wait(), 5)
        held = hub.held()
        assert held is not None
        assert (held[0], list(held[1])) == (_cycle(2).at, _cycle(2).states)

    asyncio.run(run())


def test_nothing_is_held_before_the_states_were_first_read() -> None:
    gate = threading.Event()

    def load() -> list[FlightState]:
        assert gate.wait(5)
        return []

    async def run() -> None:
        hub = UpdateHub(InProcessBroadcaster(), live_window_s=300, load_current=load)
        hub._subscribed()
        hub.dispatch(_cycle(1))  # a cycle before the store was read: not every aircraft
        assert hub.held() is None
        gate.set()
        await asyncio.wait_for(hub.ready.wait(), 5)
        assert hub.held() is not None

    asyncio.run(run())


def test_the_states_read_again_are_indexed_and_presented_before_snapshots_ask() -> None:
    """After a resync the subscribers' snapshots find the current states indexed and
    presented: made in slices as they were read, not by the first snapshot at once."""
    made: list[str] = []
    stored: list[FlightState] = []

    def present(state: Any) -> object:
        made.append(state.icao24)
        return object()

    async def run() -> None:
        hub = UpdateHub(
            InProcessBroadcaster(), live_window_s=300, load_current=lambda: list(stored),
            present=present,
        )  # fmt: skip
        hub._subscribed()
        await asyncio.wait_for(hub.ready.wait(), 5)
        hub.dispatch(_cycle(1))
        stored.extend(_cycle(2).states)
        made.clear()
        hub._subscribed()
        await asyncio.wait_for(hub.ready.wait(), 5)
        assert sorted(made) == ["aaaaaa", "bbbbbb"]
        index = hub.current()
        selected = index.select(EUROPE)
        assert [s.icao24 for s in selected.states] == ["aaaaaa"]
        assert len(made) == 2  # nothing made again for the snapshot
        assert hub.current() is index

    asyncio.run(run())


def test_a_store_that_cannot_be_read_leaves_live_updates_flowing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def load() -> list[FlightState]:
        raise StoreUnavailable("the store is down")

    async def run() -> Batch:
        hub = UpdateHub(InProcessBroadcaster(), live_window_s=300, load_current=load)
        hub._subscribed()
        await asyncio.wait_for(hub.ready.wait(), 5)
        with hub.subscribe(EUROPE) as sub:
            await hub.fan_out(_cycle(1))
            return await asyncio.wait_for(sub.next(), 5)

    with caplog.at_level("ERROR", logger="live.subscribers"):
        batch = asyncio.run(run())
    assert [s.icao24 for s in batch.flights] == ["aaaaaa"]
    assert "reading the current states for live updates failed" in caplog.text
