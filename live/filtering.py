"""Which states of a cycle one subscriber gets, and which aircraft left its view.

A ``StateIndex`` sorts a cycle's positioned states once into whole-degree latitude rows,
each ordered by longitude. A subscriber's box then costs two binary searches per row it
spans and a slice of each row: the rows wholly inside the box are taken without looking
at a single state, and only the (at most two) rows its southern and northern edges cut
are checked state by state. The set of aircraft a box holds, which a subscriber compares
with the last cycle's to tell which ones left, is made the same way, from each row's
prefix sets (``AircraftNumbers``). A thousand subscribers with regional boxes cost tens of
milliseconds a cycle (``python -m bench.fanout``), not a thousand passes over every state.

An index made with a ``present`` function also keeps what it makes of each state (the
API's ``Flight``), once per state and row however many subscribers select it, and hands
it out in the same slices. A box selection's shown items say which runs of which rows
they are (``Sliced``), so that what a reader derives from a whole row (the executor: the
row's flights completed and encoded for a selection) is derived once a cycle and sliced
for each subscriber.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from itertools import compress
from typing import Any, Final, overload

from domain import BoundingBox, FlightState

Present = Callable[[FlightState], Any]


class PresentOnce:
    """``present`` made once per state object, however many indexes ask: a cycle's
    ``StateIndex``, the current states' and the held states' (``storage.held``) each asked
    for the same 5,400 states, and a state that did not change since the last cycle is
    the same object. It keeps what it made of each aircraft's latest state asked for,
    until ``forget``. Safe to call from several threads (two may make the same state's
    at once; either is kept)."""

    def __init__(self, present: Present) -> None:
        self.present = present
        self._made: dict[str, tuple[FlightState, Any]] = {}

    def __call__(self, state: FlightState) -> Any:
        made = self._made.get(state.icao24)
        if made is not None and made[0] is state:
            return made[1]
        shown = self.present(state)
        self._made[state.icao24] = (state, shown)
        return shown

    def forget(self, codes: Iterable[str]) -> None:
        """Drop what was made for these aircraft (they left the live picture)."""
        for code in codes:
            self._made.pop(code, None)

    def __len__(self) -> int:
        return len(self._made)


class RowItems(list[Any]):
    """What ``present`` made of one latitude row's states, in the row's order: a plain
    list to every reader, with the row's ``states`` and room (``derived``) for what a
    reader derives from the whole row once a cycle, keyed as it likes (the executor: each
    item's response, per selection)."""

    __slots__ = ("codes", "derived", "states")

    def __init__(self, items: list[Any], states: list[FlightState], codes: list[str]) -> None:
        super().__init__(items)
        self.states = states
        self.codes = codes
        self.derived: dict[str, Any] = {}


# A run of one row: its items, first, last, and the mask of those kept (``None``: all).
Part = tuple[RowItems, int, int, list[bool] | None]


class Runs(Sequence[Any]):
    """Items taken from runs of rows (``parts``): a sequence to every reader, made into
    one list (``join``) only when one reads it item by item."""

    __slots__ = ("_items", "parts")

    def __init__(self, parts: list[Part]) -> None:
        self.parts = parts
        self._items: list[Any] | None = None

    def join(self) -> list[Any]:
        raise NotImplementedError

    @property
    def items(self) -> list[Any]:
        if self._items is None:
            self._items = self.join()
        return self._items

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, i: int) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...
    def __getitem__(self, i: int | slice) -> Any:
        return self.items[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __eq__(self, other: object) -> bool:
        return self.items == other if isinstance(other, Sequence) else NotImplemented

    __hash__ = None  # type: ignore[assignment]


class Sliced(Runs):
    """A box selection's shown items, runs of whole rows. A reader that derives something
    from whole rows (the executor) slices what it derived the same way instead, and the
    list is never made: one copy less of every item for each subscriber and cycle
    (``python -m bench.subscriber_path``)."""

    __slots__ = ()

    def join(self) -> list[Any]:
        return joined(self.parts, lambda row: row)

    def states(self) -> list[FlightState]:
        """The states shown, in the same order."""
        return joined(self.parts, lambda row: row.states)


def joined(parts: list[Part], of: Callable[[RowItems], list[Any]]) -> list[Any]:
    """What ``of`` gives for each row of ``parts``, sliced and masked as the part says."""
    items: list[Any] = []
    for row, first, last, keep in parts:
        run = of(row)[first:last]
        items += run if keep is None else compress(run, keep)
    return items


_ONE: Final = 1


class AircraftNumbers:
    """A number for each aircraft, so that a set of aircraft is one ``int``: bit ``n`` for
    the aircraft numbered ``n``. A hub's subscribers keep the aircraft they see as such a
    set (``LiveView``), and a box selection's set is made from prefixes of its rows'
    (``StateIndex``): the set operations of a subscriber's cycle go over a few hundred
    bytes of contiguous memory, not hundreds of codes scattered over the heap
    (``python -m bench.subscriber_path``). A number given up (``release``) goes to the
    next aircraft numbered."""

    __slots__ = ("_codes", "_free", "_numbers")

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._codes: list[str] = []
        self._free: list[int] = []

    def number(self, code: str) -> int:
        """The aircraft's number; it is numbered if it was not."""
        number = self._numbers.get(code)
        if number is None:
            if self._free:
                number = self._free.pop()
                self._codes[number] = code
            else:
                number = len(self._codes)
                self._codes.append(code)
            self._numbers[code] = number
        return number

    def bits(self, codes: Iterable[str]) -> int:
        """The set of ``codes``; those not numbered yet are. Made as bytes: a cycle's
        5,400 aircraft OR-ed one by one into an ``int`` made 5,400 new ones."""
        known, numbered = self._numbers.get, self.number
        numbers = [n if (n := known(code)) is not None else numbered(code) for code in codes]
        made = bytearray(max(numbers, default=0) // 8 + 1)
        for n in numbers:
            made[n >> 3] |= 1 << (n & 7)
        return int.from_bytes(made, "little")

    def known(self, codes: Iterable[str]) -> int:
        """The set of those of ``codes`` that are numbered (no other can be in a set)."""
        numbers = self._numbers
        found = 0
        for code in codes:
            number = numbers.get(code)
            if number is not None:
                found |= 1 << number
        return found

    def codes(self, bits: int) -> list[str]:
        """The aircraft of the set ``bits``, sorted."""
        codes = self._codes
        found = []
        while bits:
            low = bits & -bits
            found.append(codes[low.bit_length() - 1])
            bits ^= low
        found.sort()
        return found

    def release(self, codes: Iterable[str]) -> None:
        """Give up these aircraft's numbers: no set that is still used holds them."""
        for code in codes:
            number = self._numbers.pop(code, None)
            if number is not None:
                self._free.append(number)

    def __len__(self) -> int:
        return len(self._numbers)


class Selection:
    """The states a filter selects from an index, with their codes, what the index's
    ``present`` made of them (the states themselves without one), in the same order, and
    their set in the index's numbers (``bits``). A box selection's codes and states are
    taken from its rows when first read."""

    __slots__ = ("_codes", "_states", "bits", "shown")

    def __init__(
        self,
        codes: list[str] | None,
        shown: Sequence[Any],
        states: list[FlightState] | None = None,
        bits: int = 0,
    ) -> None:
        self._codes = codes
        self.shown = shown
        self._states = states
        self.bits = bits

    @property
    def codes(self) -> list[str]:
        if self._codes is None:
            assert isinstance(self.shown, Sliced), "only a box selection's codes are taken later"
            self._codes = joined(self.shown.parts, lambda row: row.codes)
        return self._codes

    @property
    def states(self) -> list[FlightState]:
        if self._states is None:
            assert isinstance(self.shown, Sliced), "only a box selection's states are taken later"
            self._states = self.shown.states()
        return self._states


class _Row:
    """The positioned states of one whole-degree latitude row, by longitude."""

    __slots__ = ("_prefixes", "codes", "latitudes", "longitudes", "numbers", "shown", "states")

    def __init__(self, states: list[FlightState], codes: list[str]):
        self.longitudes: list[float] = [s.longitude for s in states]  # type: ignore[misc]
        self.latitudes: list[float] = [s.latitude for s in states]  # type: ignore[misc]
        self.states = states
        self.codes = codes
        self.shown: RowItems | None = None  # made on the first selection that takes it
        self._prefixes: list[int] | None = None
        self.numbers: list[int] = []

    def prefixes(self, numbers: AircraftNumbers) -> list[int]:
        """The sets of the row's first 0, 1, 2 ... aircraft: the set of a run ``first:last``
        is ``prefixes[last] ^ prefixes[first]`` (each aircraft's bit is its own). Made,
        with the aircraft's ``numbers``, on the first selection that takes the row."""
        if self._prefixes is None:
            self.numbers = list(map(numbers.number, self.codes))
            prefixes = [0]
            running = 0
            for number in self.numbers:
                running ^= 1 << number
                prefixes.append(running)
            self._prefixes = prefixes
        return self._prefixes


def _longitude_spans(box: BoundingBox) -> list[tuple[float, float]]:
    """The box's longitudes as closed intervals: two across the antimeridian."""
    if box.crosses_antimeridian:
        return [(box.west, 180.0), (-180.0, box.east)]
    return [(box.west, box.east)]


class StateIndex:
    """One cycle's states: by aircraft, and positioned ones by latitude row and longitude."""

    def __init__(
        self,
        states: Sequence[FlightState],
        present: Present | None = None,
        numbers: AircraftNumbers | None = None,
    ) -> None:
        self.states = states
        self.present = present
        # The numbers of ``Selection.bits``: a hub's, shared by every index it makes and
        # the views of its subscribers; else one of the index's own.
        self.numbers = AircraftNumbers() if numbers is None else numbers
        self._known: tuple[AbstractSet[str], int] | None = None
        # What ``present`` made of each state, by ``id(state)``: once per state however
        # many subscribers get it (the states live as long as the index).
        self.memo: dict[int, Any] = {}
        self.codes = [s.icao24 for s in states]
        self.by_icao24 = dict(zip(self.codes, states, strict=True))
        members: defaultdict[int, list[int]] = defaultdict(list)
        by_icao24 = self.by_icao24
        for i, s in enumerate(states):
            lat, lon = s.latitude, s.longitude
            if by_icao24[s.icao24] is not s:
                continue  # an aircraft listed twice: its last state stands for it, as above
            if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
                # Row 89 holds the pole: [89, 90], closed.
                members[min(math.floor(lat), 89)].append(i)
        self._rows: dict[int, _Row] = {}
        codes = self.codes
        for lat, row in members.items():
            row.sort(key=lambda i: states[i].longitude)  # type: ignore[arg-type,return-value]
            self._rows[lat] = _Row([states[i] for i in row], [codes[i] for i in row])

    @cached_property
    def bits(self) -> int:
        """The set of every aircraft of the cycle, positioned or not."""
        return self.numbers.bits(self.codes)

    def prepare(self) -> None:
        """Make every row's sets and the cycle's set now, not on the first selections
        that need them. Reads the numbers only when every aircraft has one already."""
        for row in self._rows.values():
            row.prefixes(self.numbers)
        _ = self.bits

    def known(self, codes: AbstractSet[str]) -> int:
        """``AircraftNumbers.known(codes)``, kept for the last ``codes`` asked: a hub asks for
        the same aircraft once for each of its subscribers."""
        known = self._known
        if known is None or known[0] is not codes:
            self._known = known = (codes, self.numbers.known(codes))
        return known[1]

    @cached_property
    def contact_of(self) -> dict[str, float]:
        """Each aircraft's last contact (epoch seconds), by icao24: what a ``View`` keeps."""
        return {s.icao24: s.last_contact.timestamp() for s in self.states}

    def shown(self, states: list[FlightState]) -> list[Any]:
        """What ``present`` makes of ``states`` (these states, without it), made once each."""
        present = self.present
        if present is None:
            return states
        memo = self.memo
        for state in [s for s in states if id(s) not in memo]:
            memo[id(state)] = present(state)
        return list(map(memo.__getitem__, map(id, states)))

    def _row_shown(self, row: _Row) -> RowItems:
        if row.shown is None:
            row.shown = RowItems(self.shown(row.states), row.states, row.codes)
        return row.shown

    def in_box(self, box: BoundingBox) -> list[FlightState]:
        return self._in_box(box).states

    def select(self, flt: UpdateFilter) -> Selection:
        """The states ``flt`` selects, in a stable order: by row and longitude for a box."""
        if flt.icao24 is not None:
            found = (self.by_icao24.get(code) for code in sorted(flt.icao24))
            states = [s for s in found if s is not None and flt.matches(s)]
            codes = [s.icao24 for s in states]
            return Selection(codes, self.shown(states), states, self.numbers.bits(codes))
        if flt.bbox is not None:
            return self._in_box(flt.bbox)
        states = list(self.by_icao24.values())
        return Selection(list(self.by_icao24), self.shown(states), states, self.bits)

    def _in_box(self, box: BoundingBox) -> Selection:
        """Only the runs of rows are gathered here, and their set: the codes, states and
        what ``present`` made of them are taken from the runs when read."""
        parts: list[Part] = []
        bits = 0
        low, high = box.south, box.north
        spans = _longitude_spans(box)
        rows = self._rows
        numbers = self.numbers
        for lat in range(max(math.floor(low), -90), min(math.floor(high), 89) + 1):
            row = rows.get(lat)
            if row is None:
                continue
            whole = low <= lat and lat + 1 <= high  # the row lies inside the box's latitudes
            longitudes = row.longitudes
            for west, east in spans:
                first = bisect_left(longitudes, west)
                last = bisect_right(longitudes, east, first)
                if first == last:
                    continue
                row_shown = row.shown or self._row_shown(row)
                prefixes = row.prefixes(numbers)
                if whole:
                    bits |= prefixes[last] ^ prefixes[first]
                    parts.append((row_shown, first, last, None))
                else:
                    keep = [low <= la <= high for la in row.latitudes[first:last]]
                    # Distinct powers of two: their sum is their union.
                    bits |= sum(map(_ONE.__lshift__, compress(row.numbers[first:last], keep)))
                    parts.append((row_shown, first, last, keep))
        return Selection(None, Sliced(parts), bits=bits)


# What a batch without flights selects.
NOTHING = Selection([], [], [], 0)


@dataclass(frozen=True, slots=True)
class UpdateFilter:
    """A subscription's filter: a box, a set of aircraft, both (and) or neither (all)."""

    bbox: BoundingBox | None = None
    icao24: frozenset[str] | None = None

    def matches(self, state: FlightState) -> bool:
        if self.icao24 is not None and state.icao24 not in self.icao24:
            return False
        if self.bbox is None:
            return True
        if state.latitude is None or state.longitude is None:
            return False
        return self.bbox.contains(state.latitude, state.longitude)

    def select(self, index: StateIndex) -> list[FlightState]:
        return index.select(self).states


@dataclass(slots=True)
class View:
    """What one subscriber currently sees, as a view kept between invocations holds it
    (the Lambda fan-out stores it with the subscription): the aircraft inside its filter,
    with the last contact of each, so that it can be told which ones left or went stale."""

    filter: UpdateFilter
    inside: dict[str, float] = field(default_factory=dict)

    def reset(self, current: StateIndex) -> Selection:
        """The subscriber's first batch: the ``current`` states that match."""
        matched = current.select(self.filter)
        contact = current.contact_of
        self.inside = {code: contact[code] for code in matched.codes}
        return matched

    def apply(
        self, index: StateIndex, stale_before: datetime | None
    ) -> tuple[Selection, list[str]]:
        """The states of a cycle this subscriber gets, and the aircraft that left its
        filter (moved out, or last heard before ``stale_before``)."""
        matched = index.select(self.filter)
        inside = self.inside
        removed: list[str] = []
        if inside:
            # Set operations in C; sorted, so that the order does not depend on hashing.
            moved = sorted((inside.keys() - matched.codes) & index.by_icao24.keys())
            for code in moved:
                del inside[code]
            removed.extend(moved)
        contact = index.contact_of
        inside.update({code: contact[code] for code in matched.codes})
        if stale_before is not None and inside:
            cutoff = stale_before.timestamp()
            if min(inside.values()) < cutoff:  # most cycles: none, found in C
                stale = [code for code, seen in inside.items() if seen < cutoff]
                for code in stale:
                    del inside[code]
                removed.extend(stale)
        return matched, removed


@dataclass(slots=True)
class LiveView:
    """What one subscriber of a long-running process sees: the aircraft inside its
    filter, as a set (``inside``) in the numbers of the indexes it is applied to (its
    hub's). It keeps no last contacts: its hub, which holds every live aircraft's latest
    state, tells it each cycle which aircraft went stale (``apply``'s ``dropped``).

    About half the work of a ``View`` per subscriber and cycle, which a process with
    thousands of subscribers does for each of them (``python -m bench.subscriptions``)."""

    filter: UpdateFilter
    inside: int = 0
    numbers: AircraftNumbers | None = None

    def codes(self) -> list[str]:
        """The aircraft inside, sorted."""
        return [] if self.numbers is None else self.numbers.codes(self.inside)

    def reset(self, current: StateIndex) -> tuple[Selection, list[str]]:
        """The subscriber's first batch: the ``current`` states that match, and the
        aircraft that were inside and are not (sorted)."""
        before = self._inside_in(current.numbers)
        matched = current.select(self.filter)
        self.inside = matched.bits
        return matched, current.numbers.codes(before & ~matched.bits)

    def apply(self, index: StateIndex, dropped: AbstractSet[str]) -> tuple[Selection, list[str]]:
        """The states of a cycle this subscriber gets, and the aircraft that left its
        filter: moved out (those in the cycle, not matched), then went stale (those in
        ``dropped``, the aircraft the hub no longer holds as live), each sorted."""
        matched = index.select(self.filter)
        now = matched.bits
        removed: list[str] = []
        if gone := self._inside_in(index.numbers) & ~now:
            if moved := gone & index.bits:
                removed = index.numbers.codes(moved)
            now |= gone & ~moved  # not heard from this cycle: still inside
        if dropped and (stale := now & index.known(dropped)):
            removed += index.numbers.codes(stale)
            now &= ~stale
        self.inside = now
        return matched, removed

    def _inside_in(self, numbers: AircraftNumbers) -> int:
        """``inside`` in ``numbers``, which it is in from now on: the same set, renumbered
        if it was in another (an index made without its hub's numbers)."""
        if self.numbers is not numbers:
            if self.inside and self.numbers is not None:
                self.inside = numbers.bits(self.numbers.codes(self.inside))
            self.numbers = numbers
        return self.inside
