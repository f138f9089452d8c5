"""No silent gaps: an update that never reached a hub, because the listener fell behind or
Redis hung while it was published, makes every subscriber resync before what follows.
The Redis tests stop and continue a redis-server of their own (SIGSTOP, SIGCONT)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from devtools.redis_server import RedisServer, start
from domain import BoundingBox
from domain.cycle import CycleReport
from live import channel as channel_module
from live.channel import InProcessBroadcaster, RedisCycleChannel, StoredSince, StorePolling
from live.cycle_update import CycleUpdate
from live.filtering import UpdateFilter
from live.subscribers import Batch, Subscriber, UpdateHub
from storage.redis import connect, connect_async
from storage.redis.pubsub import RedisBroadcaster
from storage.stores import Stores
from testkit import make_state

EUROPE = UpdateFilter(bbox=BoundingBox(35, -10, 70, 30))
CYCLE_S = 0.2  # the publisher's pace: a hang of HANG_S misses several cycles
HANG_S = 2.0


def _at(n: int) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=5) + timedelta(seconds=10 * n)


def _cycle(n: int) -> CycleUpdate:
    state = make_state("aaaaaa", time=_at(n), latitude=48.0 + n / 100, longitude=2.0)
    return CycleUpdate(f"cycle-{n}", _at(n), [state])


def _silent_gaps(batches: list[Batch]) -> list[str]:
    """Cycles a subscriber neither got nor was told it missed (by a resync or a drop
    count) before the next cycle it got."""
    gaps, expected, told = [], 1, False
    for batch in batches:
        if batch.resync or batch.dropped:
            told = True
        if batch.resync:
            continue
        n = int(batch.cycle_id.removeprefix("cycle-"))
        if n > expected and not told:
            gaps += [f"cycle-{m}" for m in range(expected, n)]
        expected, told = max(expected, n + 1), False
    return gaps


def _number(batch: Batch) -> int:
    return int(batch.cycle_id.removeprefix("cycle-"))


async def _drain(sub: Subscriber, until_cycle: str, timeout: float = 15.0) -> list[Batch]:
    """Batches up to the one of ``until_cycle``, or of a later cycle."""
    batches: list[Batch] = []
    last = int(until_cycle.removeprefix("cycle-"))
    while not batches or batches[-1].resync or _number(batches[-1]) < last:
        batches.append(await asyncio.wait_for(sub.next(), timeout))
    return batches


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


def test_a_listener_that_fell_behind_resyncs_its_subscribers() -> None:
    async def run() -> list[Batch]:
        broadcaster = InProcessBroadcaster(backlog=4)
        async with _running(UpdateHub(broadcaster, live_window_s=3600)) as hub:
            with hub.subscribe(EUROPE) as sub:
                broadcaster.publish(_cycle(1))
                batches = await _drain(sub, "cycle-1")
                # Published faster than the hub's loop takes them: all are offered to its
                # queue before it reads one, and the oldest are lost.
                for n in range(2, 12):
                    broadcaster.publish(_cycle(n))
                batches += await _drain(sub, "cycle-11")
                assert broadcaster.lost == 6
                return batches

    batches = asyncio.run(run())
    assert [(b.cycle_id, b.resync) for b in batches] == [
        ("cycle-1", False),
        ("cycle-1", True),
        *((f"cycle-{n}", False) for n in range(8, 12)),
    ]
    assert _silent_gaps(batches) == []


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server only this test stops: the shared one keeps serving the other tests."""
    server = start()
    try:
        yield server
    finally:
        _continue(server)
        server.stop()


def _stop(server: RedisServer) -> None:
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)


def _continue(server: RedisServer) -> None:
    if server.process is not None and server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)


async def _through_a_hang(server: RedisServer, *, silence_s: float) -> tuple[list[Batch], int]:
    """Cycle 1, then Redis hung while cycles 2.. are published, then cycles until one
    reaches the subscriber: what it got, and how often the listener reconnected."""
    aclient = connect_async(server.url())
    publishing = connect(server.url())
    listener = RedisBroadcaster(
        connect(server.url()), aclient=aclient, silence_s=silence_s, answer_s=0.5
    )
    publisher = RedisCycleChannel(RedisBroadcaster(publishing))
    try:
        async with _running(UpdateHub(RedisCycleChannel(listener), live_window_s=3600)) as hub:
            with hub.subscribe(EUROPE) as sub:
                await asyncio.to_thread(publisher.publish, _cycle(1))
                batches = await _drain(sub, "cycle-1")
                _stop(server)
                n = 1
                try:
                    for _ in range(int(HANG_S / CYCLE_S)):
                        n += 1
                        await asyncio.to_thread(publisher.publish, _cycle(n))
                        await asyncio.sleep(CYCLE_S)
                finally:
                    _continue(server)

                async def publish_on(n: int) -> None:
                    while True:
                        n += 1
                        await asyncio.to_thread(publisher.publish, _cycle(n))
                        await asyncio.sleep(CYCLE_S)

                publishing_on = asyncio.create_task(publish_on(n))
                try:
                    batches += await _drain(sub, f"cycle-{n + 1}")
                finally:
                    publishing_on.cancel()
                return batches, listener.reconnects
    finally:
        await aclient.aclose()
        publishing.close()


def test_cycles_lost_while_redis_hung_are_never_a_silent_gap(own_redis: RedisServer) -> None:
    """The hang is shorter than the listener's health check: the listener stays subscribed
    and sees the numbers the failed publications spent."""
    batches, reconnects = asyncio.run(_through_a_hang(own_redis, silence_s=60))

    assert reconnects == 0
    assert any(b.resync for b in batches)
    assert _silent_gaps(batches) == []


def test_a_listener_that_hears_nothing_from_a_hung_redis_resubscribes_and_resyncs(
    own_redis: RedisServer,
) -> None:
    batches, reconnects = asyncio.run(_through_a_hang(own_redis, silence_s=0.3))

    assert reconnects >= 1
    assert any(b.resync for b in batches)
    assert _silent_gaps(batches) == []


def test_a_poll_that_finds_more_than_one_new_cycle_resyncs(stores: Stores) -> None:
    def record(n: int) -> None:
        stores.flights.put_states(_cycle(n).states)
        stores.cycles.put_cycle(CycleReport(source="test", started_at=_at(n), cycle_id=f"c{n}"))

    async def run() -> list[Batch]:
        record(0)
        channel = StorePolling(stores, live_window_s=3600, every_s=0.3)
        async with _running(UpdateHub(channel, live_window_s=3600)) as hub:
            with hub.subscribe(EUROPE) as sub:
                record(1)
                batches = [await asyncio.wait_for(sub.next(), 10)]
                record(2)  # both between two polls: one update, holding only cycle 3's
                record(3)
                batches += [await asyncio.wait_for(sub.next(), 10) for _ in range(2)]
                return batches

    batches = asyncio.run(run())
    assert [(b.cycle_id, b.resync) for b in batches] == [("c1", False), ("c1", True), ("c3", False)]


def test_a_poll_comes_as_soon_as_the_store_commits_a_cycle(stores: Stores) -> None:
    """Between two polls the poller waits for the store's commits: a committed cycle is
    read at once, not when the polling interval (here a minute) is up."""
    stores.flights.put_states(_cycle(0).states)
    cycle = _cycle(1)

    async def run() -> Batch:
        channel = StorePolling(stores, live_window_s=3600, every_s=60)
        async with _running(UpdateHub(channel, live_window_s=3600)) as hub:
            with hub.subscribe(EUROPE) as sub:
                await asyncio.sleep(0.1)  # the poller waits for a commit
                stores.flights.put_states(cycle.states)
                stores.cycles.put_cycle(
                    CycleReport(source="test", started_at=cycle.at, cycle_id="c1")
                )
                return await asyncio.wait_for(sub.next(), 10)

    batch = asyncio.run(run())
    assert (batch.cycle_id, [(s.icao24, s.time) for s in batch.flights]) == (
        "c1",
        [(s.icao24, s.time) for s in cycle.states],
    )


def test_a_watched_store_is_polled_often_only_while_it_is_written(stores: Stores) -> None:
    """With a watch the poller looks every ``every_s`` only for ``SETTLE_S`` after a write
    (a commit is visible a moment after its last write), else about once a second."""
    polls: list[float] = []
    recent_cycles = stores.cycles.recent_cycles

    def counted(n: int) -> list[CycleReport]:
        polls.append(time.monotonic())
        return recent_cycles(n)

    async def run() -> tuple[int, int]:
        stores.cycles.recent_cycles = counted  # type: ignore[method-assign]
        channel = StorePolling(stores, live_window_s=3600, every_s=0.05)
        async with _running(UpdateHub(channel, live_window_s=3600)):
            await asyncio.sleep(0.5)  # the watch started; nothing written since
            start = time.monotonic()
            await asyncio.sleep(2.2)
            idle = sum(start <= t for t in polls)
            written = time.monotonic()
            await asyncio.to_thread(
                stores.cycles.put_cycle, CycleReport(source="t", started_at=_at(1))
            )
            await asyncio.sleep(channel_module.SETTLE_S)
            return idle, sum(written <= t for t in polls)

    idle, settling = asyncio.run(run())
    assert 1 <= idle <= 4  # about once a second, not 44 times
    assert settling >= 5  # every 50 ms once written


def test_a_poll_publishes_the_aircraft_whose_latest_state_the_new_cycle_stored(
    stores: Stores,
) -> None:
    """Only what the cycle stored is read: not a late state older than an aircraft's
    latest, not an aircraft that is no longer live, not the live aircraft left alone."""
    assert isinstance(stores.flights, StoredSince)
    a0 = make_state("aaaaaa", time=_at(0), latitude=48.0, longitude=2.0)
    b0 = make_state("bbbbbb", time=_at(0), latitude=49.0, longitude=3.0)
    stores.flights.put_states([a0, b0])
    stores.cycles.put_cycle(CycleReport(source="test", started_at=_at(0), cycle_id="c0"))
    b1 = make_state("bbbbbb", time=_at(1), latitude=49.1, longitude=3.0)
    a_late = make_state("aaaaaa", time=_at(-1), latitude=47.9, longitude=2.0)
    c_stale = make_state("cccccc", time=_at(1) - timedelta(hours=2), latitude=50.0, longitude=4.0)
    d1 = make_state("dddddd", time=_at(1), latitude=51.0, longitude=5.0)

    async def run() -> list[Batch]:
        channel = StorePolling(stores, live_window_s=3600, every_s=0.1)
        async with _running(UpdateHub(channel, live_window_s=3600)) as hub:
            with hub.subscribe(EUROPE) as sub:
                stores.flights.put_states([b1, a_late, c_stale, d1])
                stores.cycles.put_cycle(
                    CycleReport(source="test", started_at=_at(1), cycle_id="c1")
                )
                return [await asyncio.wait_for(sub.next(), 10)]

    (batch,) = asyncio.run(run())
    assert batch.cycle_id == "c1"
    assert sorted((s.icao24, s.time) for s in batch.flights) == [
        ("bbbbbb", b1.time),
        ("dddddd", d1.time),
    ]


def test_a_cycle_committed_while_a_poll_reads_is_published_as_itself(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cycle committed after a poll read the newest cycle and before it marked the
    stored states: its states go out under its own id, as the update after the one the
    poll found (no update holds a later cycle's states, none is left empty)."""
    assert isinstance(stores.flights, StoredSince)
    flights = stores.flights

    def record(n: int, at: datetime) -> None:
        state = make_state("aaaaaa", time=at, latitude=48.0 + n / 10, longitude=2.0)
        with stores.unit_of_work():  # a cycle's states and report commit together
            stores.flights.put_states([state])
            stores.cycles.put_cycle(CycleReport(source="test", started_at=at, cycle_id=f"c{n}"))

    at = [_at(n) for n in range(3)]
    record(0, at[0])
    real_mark = flights.stored_mark
    marks = 0

    def mark_after_the_next_cycle() -> int:
        nonlocal marks
        marks += 1
        if marks == 2:  # the poll that found c1 marks the store: c2 commits first
            record(2, at[2])
        return real_mark()

    monkeypatch.setattr(flights, "stored_mark", mark_after_the_next_cycle)

    async def run() -> list[Batch]:
        channel = StorePolling(stores, live_window_s=3600, every_s=0.05)
        async with _running(UpdateHub(channel, live_window_s=3600)) as hub:
            with hub.subscribe(EUROPE) as sub:
                record(1, at[1])
                return [await asyncio.wait_for(sub.next(), 10) for _ in range(2)]

    batches = asyncio.run(run())
    # c1's poll saw c2 arrive: one update, c2's, holding each aircraft's newest state,
    # as for two cycles between polls, so the subscribers resync first.
    assert [b.resync for b in batches] == [True, False]
    assert batches[1].cycle_id == "c2"
    assert [s.time for s in batches[1].flights] == [at[2]]


def test_a_cycle_is_read_a_few_rows_at_a_time_letting_requests_go_first(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every aircraft's latest state of the cycle, read ``READ_ROWS`` stored rows at a
    time, with ``yield_to`` awaited between two reads."""
    monkeypatch.setattr(channel_module, "READ_ROWS", 2)
    waits: list[float] = []

    async def yield_to(max_wait_s: float) -> float:
        waits.append(max_wait_s)
        return 0.0

    codes = [f"{n:06x}" for n in range(0xA00001, 0xA00006)]
    t0, t1 = _at(0), _at(1)
    first = [make_state(code, time=t0, latitude=48.0, longitude=2.0) for code in codes]
    second = [make_state(code, time=t1, latitude=48.1, longitude=2.1) for code in codes]

    async def run() -> list[Batch]:
        channel = StorePolling(stores, live_window_s=3600, every_s=0.05, yield_to=yield_to)
        async with _running(UpdateHub(channel, live_window_s=3600)) as hub:
            with hub.subscribe(EUROPE) as sub:
                # two cycles between two polls: ten rows, the first five superseded
                stores.flights.put_states(first)
                stores.flights.put_states(second)
                stores.cycles.put_cycle(CycleReport(source="test", started_at=t1, cycle_id="c1"))
                return [await asyncio.wait_for(sub.next(), 10)]

    (batch,) = asyncio.run(run())
    assert sorted((s.icao24, s.time) for s in batch.flights) == [(c, t1) for c in codes]
    assert waits == [channel_module.READ_WAIT_S] * 4  # five reads of two rows


def test_the_store_tells_which_latest_states_were_stored_after_a_mark(stores: Stores) -> None:
    flights = stores.flights
    assert isinstance(flights, StoredSince)
    a0 = make_state("aaaaaa", time=_at(0))
    stores.flights.put_states([a0])
    mark = flights.stored_mark()
    assert flights.latest_stored_after(mark) == ([], mark)

    a1 = make_state("aaaaaa", time=_at(1))
    b1 = make_state("bbbbbb", time=_at(1))
    stores.flights.put_states([a1, b1, a0])
    states, after = flights.latest_stored_after(mark)
    assert sorted((s.icao24, s.time) for s in states) == [("aaaaaa", a1.time), ("bbbbbb", b1.time)]
    assert after > mark
    assert flights.latest_stored_after(after) == ([], after)
    # up to a mark: the rows stored after it are left for the next read
    part, upto = flights.latest_stored_after(mark, mark + 1)
    assert (upto, [(s.icao24, s.time) for s in part]) == (mark + 1, [("aaaaaa", a1.time)])
    rest, _ = flights.latest_stored_after(upto)
    assert [(s.icao24, s.time) for s in rest] == [("bbbbbb", b1.time)]  # a0 is no latest


def test_states_stored_after_a_mark_are_read_as_they_stood_at_it(stores: Stores) -> None:
    """A cycle committed while the one before is read does not take its aircraft out of
    that one's states (its batch came out empty for them)."""
    flights = stores.flights
    assert isinstance(flights, StoredSince)
    mark = flights.stored_mark()
    a1, b1 = make_state("aaaaaa", time=_at(1)), make_state("bbbbbb", time=_at(1))
    flights.put_states([a1, b1])
    top = flights.stored_mark()
    a2 = make_state("aaaaaa", time=_at(2))
    flights.put_states([a2, make_state("aaaaaa", time=_at(0))])  # the next cycle, and a late one

    states, upto = flights.latest_stored_after(mark, top)

    assert upto == top
    assert sorted((s.icao24, s.time) for s in states) == [("aaaaaa", a1.time), ("bbbbbb", b1.time)]
    rest, _ = flights.latest_stored_after(top)
    assert [(s.icao24, s.time) for s in rest] == [("aaaaaa", a2.time)]  # not the late one
