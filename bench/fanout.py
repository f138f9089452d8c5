"""The hub's fan-out of one cycle, in-process: how long it holds the event loop.

``python -m bench.fanout [SUBSCRIBERS ...]`` (default 100 and 1,000). The global snapshot
(about 5,400 aircraft, every one moved each cycle) goes to subscribers in the boxes
``bench.subscriptions`` uses. For three cycles it times ``UpdateHub.dispatch``, which
offers a cycle to every subscriber at once, and the longest single step of the event loop
while ``UpdateHub.fan_out`` offers it in slices: what a request arriving meanwhile may
wait for. Only the hub's own work: no subscriber renders or sends here.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from contextlib import ExitStack

from bench._common import line
from bench.subscriptions import _boxes
from domain import BoundingBox
from ingestion.replay import ReplaySource, load_snapshot
from ingestion.validate import validate
from live.channel import InProcessBroadcaster
from live.cycle_update import CycleUpdate
from live.filtering import UpdateFilter
from live.subscribers import UpdateHub

FLOOR_MS = 10.0  # the longest loop step of a sliced fan-out
CYCLES = 3


def _cycles(count: int) -> list[CycleUpdate]:
    source = ReplaySource(load_snapshot())
    start = time.time()
    cycles = []
    for n in range(count):
        states, _ = validate(ReplaySource.normalise(source.at(start + 5 * n)).candidates)
        cycles.append(CycleUpdate(f"cycle-{n}", states[0].time, states))
    return cycles


async def _longest_step(hub: UpdateHub, update: CycleUpdate) -> float:
    """The longest gap between two turns of a callback that reschedules itself."""
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    last = time.perf_counter()
    running = True

    def tick() -> None:
        nonlocal last
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
        if running:
            loop.call_soon(tick)

    loop.call_soon(tick)
    await hub.fan_out(update)
    running = False
    await asyncio.sleep(0)
    return max(gaps)


async def _measure(subscribers: int, cycles: list[CycleUpdate]) -> tuple[float, float]:
    hub = UpdateHub(InProcessBroadcaster(), live_window_s=300)
    with ExitStack() as stack:
        for box in _boxes(subscribers):
            bbox = BoundingBox(box["south"], box["west"], box["north"], box["east"])
            stack.enter_context(hub.subscribe(UpdateFilter(bbox=bbox)))
        hub.dispatch(cycles[0])
        blocks = []
        for update in cycles[1 : CYCLES + 1]:
            started = time.perf_counter()
            hub.dispatch(update)
            blocks.append(time.perf_counter() - started)
        steps = [await _longest_step(hub, update) for update in cycles[CYCLES + 1 :]]
    return statistics.median(blocks) * 1000, statistics.median(steps) * 1000


def main(argv: list[str]) -> int:
    counts = [int(a) for a in argv] or [100, 1000]
    cycles = _cycles(2 * CYCLES + 1)
    print(f"hub fan-out, in-process: {len(cycles[0].states):,} states a cycle")
    missed = False
    for count in counts:
        block_ms, step_ms = asyncio.run(_measure(count, cycles))
        ok = step_ms <= FLOOR_MS
        missed |= not ok
        line(f"{count:,} subscribers, dispatch in one block", f"{block_ms:.1f} ms")
        line(
            f"{count:,} subscribers, fan_out longest loop step",
            f"{step_ms:.1f} ms (floor {FLOOR_MS:.0f} ms) {'ok' if ok else 'MISSED'}",
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
