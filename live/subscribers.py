"""The subscribers of one API process and the fan-out of each cycle to them.

``UpdateHub.run`` listens on the broadcaster; each update is indexed once, filtered for
every subscriber and appended to that subscriber's bounded queue. Nothing here awaits a
client: a slow or stalled one only fills its own queue, whose oldest batches are dropped
and counted, so it never delays the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain import FlightState
from live.channel import Broadcaster
from live.cycle_update import CycleUpdate
from live.filtering import (
    NOTHING,
    AircraftNumbers,
    LiveView,
    Present,
    PresentOnce,
    Selection,
    StateIndex,
    UpdateFilter,
)
from storage.held import HeldStates
from storage.offload import offload

log = logging.getLogger(__name__)

# A cycle's fan-out yields to the event loop after this many subscribers or this much
# work. Each subscriber a slice wakes then renders and sends its batch in the loop's next
# turn (0.5 to 3 ms on a shared core; more for a selection new to the cycle), so
# a request waits behind at most a few of them at each await: slices of 16 gave
# ``flights(first: 500)`` a p95 of 98 ms in ``python -m bench.soak``, slices of 4 34 ms.
SLICE_SUBSCRIBERS = 4
SLICE_S = 0.002
# States presented (the API's ``Flight`` made, and completed for the selections in use)
# between two looks at the clock; a slice ends after ``SLICE_S``.
PRESENT_RUN = 50
# States taken into the current states between two looks at the clock.
MERGE_RUN = 500
# With ``yield_to`` (the API's ``Foreground.quiet``), each pause between slices also waits
# for the requests in progress to end, at most this long, and at most this long in all
# for a cycle: requests go first, and a busy API still delivers every cycle.
YIELD_WAIT_S = 0.05
YIELD_BUDGET_S = 0.5
# A cycle the store holds is read from the hub's states once the hub has taken it (0.05 to
# 0.2 s after it is stored). Until then, for at most this long after a reader first saw
# the store ahead, readers get the hub's previous cycle (``held_for``): what this
# process's subscribers were sent last, not a second read of every live state meanwhile.
HELD_LAG_S = 1.0


@dataclass(frozen=True, slots=True)
class Batch:
    """What one subscriber gets from one cycle. ``resync``: updates may have been missed
    (the channel reconnected); the subscriber should be sent the current state again."""

    cycle_id: str
    at: datetime
    matched: Selection
    removed: list[str]
    published_at: datetime
    dropped: int = 0
    resync: bool = False

    @property
    def flights(self) -> list[FlightState]:
        return self.matched.states

    @property
    def shown(self) -> Sequence[Any]:
        """What the hub's ``present`` made of ``flights``, in the same order (``flights``
        themselves without one): made once a cycle, shared by every subscriber's batch."""
        return self.matched.shown


class Subscriber:
    def __init__(self, flt: UpdateFilter, queue_size: int) -> None:
        self.view = LiveView(flt)
        self._queue: deque[Batch] = deque()
        self._size = queue_size
        self._ready = asyncio.Event()
        self.dropped = 0  # in all
        self._dropped_since = 0  # since the last batch taken

    def offer(self, batch: Batch) -> None:
        if len(self._queue) >= self._size:
            self._queue.popleft()
            self.dropped += 1
            self._dropped_since += 1
        self._queue.append(batch)
        self._ready.set()

    async def next(self) -> Batch:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        batch = self._queue.popleft()
        if self._dropped_since:
            batch = Batch(
                batch.cycle_id,
                batch.at,
                batch.matched,
                batch.removed,
                batch.published_at,
                dropped=self._dropped_since,
                resync=batch.resync,
            )
            self._dropped_since = 0
        return batch


class UpdateHub:
    """Fans each cycle's update out to this process's subscribers, and keeps the current
    state of every live aircraft in memory for the first batch of a new subscriber.

    ``live_window_s`` is the flights query's: an aircraft not heard from for that long
    relative to the newest contact is stale, and reported in ``removed``. ``load_current``
    reads the live states from the store: once the channel is subscribed, and again after
    it reconnected (cycles published meanwhile never reached this process). ``present``
    makes what a batch shows of each state (``Batch.shown``), once per state and cycle
    however many subscribers get it: the API's ``shared_flight``. ``after_cycle`` runs in
    the background once a cycle has been offered to every subscriber (skipped while the
    last one still runs): the API computes the live figures for the requests to come.
    ``yield_to(max_wait_s)`` is awaited between the slices of a cycle's work instead of a
    bare turn of the loop: the API waits there for its requests in progress to end
    (``api.foreground``), and returns the seconds waited.
    """

    def __init__(
        self,
        broadcaster: Broadcaster,
        *,
        live_window_s: float,
        queue_size: int = 16,
        load_current: Callable[[], Sequence[FlightState]] | None = None,
        present: Present | None = None,
        after_cycle: Callable[[], Awaitable[None]] | None = None,
        yield_to: Callable[[float], Awaitable[float]] | None = None,
    ) -> None:
        self.broadcaster = broadcaster
        self.live_window = timedelta(seconds=live_window_s)
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self.last_cycle_id: str | None = None
        self.newest: datetime | None = None
        self.cycles = 0
        self.ready = asyncio.Event()
        self._load_current = load_current
        self.present = present
        # ``present`` once per state for every index of the hub's states.
        self._present_once = None if present is None else PresentOnce(present)
        self._after_cycle = after_cycle
        self._yield_to = yield_to
        self._after: asyncio.Task[None] | None = None
        self._current: dict[str, FlightState] = {}
        self._current_index: StateIndex | None = None
        # The numbers of every index the hub makes, and so of its subscribers' views.
        self.numbers = AircraftNumbers()
        # The aircraft the last cycle offered to every subscriber dropped: their numbers
        # are given up when the next is taken, unless they came back meanwhile.
        self._let_go: frozenset[str] = frozenset()
        self._held: tuple[datetime, tuple[FlightState, ...]] | None = None
        # ``_held`` and the ``HeldStates`` made of it.
        self._held_states: tuple[object, HeldStates] | None = None
        # The store's newest contact that a reader first saw ahead of the hub, and when.
        self._behind: tuple[datetime, float] | None = None
        self._listening = 0
        # The current states were read from the store once (``ready`` was set): what
        # the hub holds is every live aircraft's, also while a resync reads them again.
        self._loaded = False
        # Held while the current states take a cycle or the states read again.
        self._taking = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in self.subscribers)

    @contextlib.contextmanager
    def subscribe(self, flt: UpdateFilter) -> Iterator[Subscriber]:
        subscriber = Subscriber(flt, self.queue_size)
        self.subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self.subscribers.discard(subscriber)

    def current(self) -> StateIndex:
        """Every live aircraft's latest state, indexed; rebuilt at most once per cycle."""
        if self._current_index is None:
            self._current_index = StateIndex(
                list(self._current.values()), self._present_once, self.numbers
            )
        return self._current_index

    async def run(self) -> None:
        """Listen for updates until cancelled."""
        try:
            async for update in self.broadcaster.listen(on_subscribed=self._subscribed):
                try:
                    await self.fan_out(update)
                except Exception:  # one bad update must not end live updates for good
                    log.exception("dispatching cycle %s failed", update.cycle_id)
                self._start_after_cycle()
        finally:
            for task in self._tasks:
                task.cancel()

    def _start_after_cycle(self) -> None:
        """``after_cycle`` in the background, unless the last one still runs."""
        if self._after_cycle is None or (self._after is not None and not self._after.done()):
            return
        self._after = task = asyncio.get_running_loop().create_task(self._run_after_cycle())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_after_cycle(self) -> None:
        assert self._after_cycle is not None
        await self._pause(0.0)
        try:
            await self._after_cycle()
        except Exception:  # what follows a cycle must not end live updates
            log.exception("the work after cycle %s failed", self.last_cycle_id)

    def _subscribed(self) -> None:
        """The channel subscribed; from the second call on, it resubscribed or missed
        updates. Every subscriber is then told to resync before any update that follows,
        and ``ready`` waits for the current states read again from the store."""
        self._listening += 1
        if self._listening > 1:
            log.info(
                "cycle updates may be missing; resyncing %d subscribers", len(self.subscribers)
            )
            self.ready.clear()
            now = datetime.now(UTC)
            for sub in self.subscribers:
                sub.offer(Batch(self.last_cycle_id or "", now, NOTHING, [], now, resync=True))
        task = asyncio.get_running_loop().create_task(self._reload())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reload(self) -> None:
        """The current states read again from the store and made ready for the
        subscribers' snapshots, then ``ready``: taken in slices, their flights made
        (``present``) in slices, and indexed on a worker thread. No cycle is taken
        meanwhile. Left to the first snapshot, that work held every request for up to
        0.3 s after a resync (``python -m bench.soak``)."""
        try:
            if self._load_current is not None:
                states = await offload(self._load_current)
                async with self._taking:
                    waited = await self._in_slices(states, MERGE_RUN, self._merge_states, 0.0)
                    self._settle()
                    self._current_index, _ = await self._made_ready(
                        list(self._current.values()), waited
                    )
        except Exception:  # the store is down: live updates still flow
            log.exception("reading the current states for live updates failed")
        finally:
            self._loaded = True
            self.ready.set()

    async def _made_ready(
        self, states: Sequence[FlightState], waited: float
    ) -> tuple[StateIndex, float]:
        """``states`` indexed for the subscribers' selections, with what ``present`` makes
        of each made in slices (``_present_ahead``); the seconds waited in all.

        Indexing takes 10 to 25 ms, and the rows' sets another 5: on a worker thread, it
        gives the event loop the interpreter back every switch interval (5 ms). The
        aircraft are numbered here first: only the loop's thread numbers aircraft."""
        waited = await self._present_ahead(states, waited)
        number = self.numbers.number
        for state in states:
            number(state.icao24)
        waited = await self._pause(waited)
        return await offload(self._prepared_index, states), waited

    def _merge(self, states: Iterable[FlightState]) -> frozenset[str]:
        """Take ``states`` into the current state; the aircraft that went stale, dropped."""
        self._merge_states(states)
        return self._settle()

    def _merge_states(self, states: Iterable[FlightState]) -> None:
        """Each of ``states`` into the current states, unless it has a later one."""
        current = self._current
        newest = self.newest
        for s in states:
            known = current.get(s.icao24)
            if known is None or known.last_contact <= s.last_contact:
                current[s.icao24] = s
            if newest is None or s.last_contact > newest:
                newest = s.last_contact
        self.newest = newest

    def _settle(self) -> frozenset[str]:
        """After a merge: the aircraft that went stale, dropped; the held states renewed."""
        current = self._current
        stale_before = self.stale_before()
        dropped: frozenset[str] = frozenset()
        if stale_before is not None:
            dropped = frozenset(c for c, s in current.items() if s.last_contact < stale_before)
            for code in dropped:
                del current[code]
            if self._present_once is not None:
                self._present_once.forget(dropped)
        self._current_index = None
        self._held = None if self.newest is None else (self.newest, tuple(current.values()))
        return dropped

    def held(self) -> tuple[datetime, Sequence[FlightState]] | None:
        """The newest contact and every live aircraft's latest state, as the store holds
        them once the current states were loaded from it (``ready`` was set), also while
        a resync reads them again (``held_for`` says how far behind the store they may
        be); else ``None``. Safe to call from another thread: each merge replaces the
        pair whole."""
        if self._load_current is None or not self._loaded:
            return None
        return self._held

    def held_states(self) -> HeldStates | None:
        """What ``held`` gives, ordered to be searched as the store is, with what ``present``
        makes of each state; made once per cycle, by the first caller. Safe to call from
        another thread."""
        held = self.held()
        if held is None:
            return None
        made = self._held_states
        if made is None or made[0] is not held:
            made = (held, HeldStates(held[0], held[1], self._present_once))
            self._held_states = made
        return made[1]

    def held_for(self, newest: datetime) -> HeldStates | None:
        """The held states to read when the store's newest contact is ``newest``: those
        of ``newest`` once the hub has taken it; until then, for ``HELD_LAG_S`` after a
        reader first asked for it, those of the hub's previous cycle; else ``None`` (read
        the store). Safe to call from another thread."""
        held = self.held_states()
        if held is None or held.newest > newest:
            return None
        if held.newest == newest:
            return held
        now = time.monotonic()
        behind = self._behind
        if behind is None or behind[0] != newest:
            self._behind = behind = (newest, now)
        return held if now - behind[1] < HELD_LAG_S else None

    def dispatch(self, update: CycleUpdate) -> None:
        """Offer ``update`` to every subscriber at once."""
        dropped = self._take(update)
        offer = self._offer(update, self._index(update), dropped)
        for sub in list(self.subscribers):
            offer(sub)
        self._let_go = dropped

    async def fan_out(self, update: CycleUpdate) -> None:
        """Offer ``update`` to every subscriber as ``dispatch`` does, in slices of at most
        ``SLICE_SUBSCRIBERS`` subscribers or ``SLICE_S`` of work, between which the event
        loop runs its other work: requests, and the subscribers the last slice woke up
        (each renders and sends its batch). Taking the update into the current state,
        making its flights (``present``) and numbering its aircraft are slices too; it is
        indexed on a worker thread. Updates are offered in order: the next one waits
        for this one. A subscriber that leaves meanwhile gets nothing more; one that joins
        meanwhile starts from the current state, which holds this update already."""
        waited = await self._pause(0.0)
        dropped, waited = await self._take_in_slices(update, waited)
        # The held states ordered and positioned (5 to 10 ms) before a page asks for them.
        await offload(self._prepare_held)
        waited = await self._pause(waited)
        index, waited = await self._made_ready(update.states, waited)
        offer = self._offer(update, index, dropped)
        subscribers = list(self.subscribers)
        waited = await self._pause(waited)
        clock = time.perf_counter
        start, count = clock(), 0
        for sub in subscribers:
            if count >= SLICE_SUBSCRIBERS or clock() - start >= SLICE_S:
                waited = await self._pause(waited)
                start, count = clock(), 0
            if sub in self.subscribers:
                offer(sub)
                count += 1
        self._let_go = dropped

    async def _present_ahead(self, states: Sequence[FlightState], waited: float) -> float:
        """What ``present`` makes of ``states``, made in slices of ``SLICE_S``: else the
        first subscriber to select a latitude row made the whole row's at once."""
        once = self._present_once
        if once is None:
            return waited

        def present(part: Sequence[FlightState]) -> None:
            for state in part:
                once(state)

        return await self._in_slices(states, PRESENT_RUN, present, waited)

    async def _in_slices(
        self,
        states: Sequence[FlightState],
        run: int,
        work: Callable[[Sequence[FlightState]], None],
        waited: float,
    ) -> float:
        """``work`` on ``states``, ``run`` of them at a time, with a pause whenever a slice
        has taken ``SLICE_S``; the seconds waited in all, after ``waited``."""
        clock = time.perf_counter
        start = clock()
        for first in range(0, len(states), run):
            work(states[first : first + run])
            if clock() - start >= SLICE_S:
                waited = await self._pause(waited)
                start = clock()
        return waited

    async def _pause(self, waited: float) -> float:
        """A turn of the event loop between slices of a cycle's work; with ``yield_to``,
        a wait for the requests in progress, within what is left of ``YIELD_BUDGET_S``
        after ``waited``. The seconds waited in all."""
        if self._yield_to is None:
            await asyncio.sleep(0)
            return waited
        return waited + await self._yield_to(min(YIELD_WAIT_S, YIELD_BUDGET_S - waited))

    def _take(self, update: CycleUpdate) -> frozenset[str]:
        """Take ``update`` into the current state; the aircraft that went stale."""
        self._begin_take(update)
        return self._merge(update.states)

    async def _take_in_slices(
        self, update: CycleUpdate, waited: float
    ) -> tuple[frozenset[str], float]:
        """``_take`` in slices of ``SLICE_S`` (it takes 5 to 10 ms for 5,400 aircraft).

        Meanwhile the held states are the last cycle's (``_settle`` renews them). A
        subscriber that joins meanwhile starts from current states that hold part of
        this update, and is offered all of it: the same states again, then its view
        is the one it would have had."""
        async with self._taking:
            self._begin_take(update)
            waited = await self._in_slices(update.states, MERGE_RUN, self._merge_states, waited)
            return self._settle(), waited

    def _begin_take(self, update: CycleUpdate) -> None:
        self.cycles += 1
        self.last_cycle_id = update.cycle_id
        # Every view let these go when the last cycle was offered; a subscriber that came
        # since started from the current states, which no longer held them.
        current = self._current
        self.numbers.release(code for code in self._let_go if code not in current)
        self._let_go = frozenset()

    def _prepare_held(self) -> None:
        held = self.held_states()
        if held is not None:
            held.prepare()

    def _index(self, update: CycleUpdate) -> StateIndex:
        return StateIndex(update.states, self._present_once, self.numbers)

    def _prepared_index(self, states: Sequence[FlightState]) -> StateIndex:
        index = StateIndex(states, self._present_once, self.numbers)
        index.prepare()
        return index

    def _offer(
        self, update: CycleUpdate, index: StateIndex, dropped: frozenset[str]
    ) -> Callable[[Subscriber], None]:
        """What offers ``update``, indexed as ``index``, to one subscriber; ``dropped``:
        the aircraft that went stale when it was taken."""

        def offer(sub: Subscriber) -> None:
            matched, removed = sub.view.apply(index, dropped)
            sub.offer(Batch(update.cycle_id, update.at, matched, removed, update.published_at))

        return offer

    def stale_before(self) -> datetime | None:
        return None if self.newest is None else self.newest - self.live_window
