"""What one ingest cycle publishes: the states it stored, and its wire format.

Each channel numbers what it publishes: ``origin`` names the publishing channel (random,
new in every process) and ``seq`` counts its updates from 0, failed publications
included. A listener that sees a number skipped knows it missed an update (``Continuity``).
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from domain import FlightState
from storage.redis.live import encode_state, state_from_row

_VERSION = 1


@dataclass(frozen=True, slots=True)
class CycleUpdate:
    """The states one ingest cycle stored (the newest per aircraft), as of ``at``."""

    cycle_id: str
    at: datetime
    states: Sequence[FlightState]
    published_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    origin: str = ""  # "": not numbered (read back from the store), never a gap
    seq: int = 0

    @property
    def newest_contact(self) -> datetime | None:
        return max((s.last_contact for s in self.states), default=None)

    def encode(self) -> bytes:
        head = orjson.dumps(
            {
                "v": _VERSION,
                "cycle_id": self.cycle_id,
                "at": self.at.timestamp(),
                "published_at": self.published_at.timestamp(),
                "origin": self.origin,
                "seq": self.seq,
            }
        )
        return b"".join(
            (head[:-1], b',"states":[', b",".join(map(encode_state, self.states)), b"]}")
        )

    @classmethod
    def decode(cls, message: bytes) -> CycleUpdate:
        """The update in ``message``; ``ValueError`` when it is not one this code reads."""
        update, rows = cls.decode_head(message)
        return replace(update, states=decode_states(rows))

    @classmethod
    def decode_head(cls, message: bytes) -> tuple[CycleUpdate, list[Any]]:
        """The update in ``message`` without its states, and their rows, which
        ``decode_states`` decodes (in parts, if the caller likes); ``ValueError`` when it
        is not one this code reads."""
        try:
            body: dict[str, Any] = orjson.loads(message)
            if body.get("v") != _VERSION:
                raise ValueError(f"cycle update version {body.get('v')!r}, expected {_VERSION}")
            rows = body["states"]
            if type(rows) is not list:
                raise TypeError(f"states: a list expected, got {type(rows).__name__}")
            update = cls(
                cycle_id=str(body["cycle_id"]),
                at=datetime.fromtimestamp(body["at"], UTC),
                states=(),
                published_at=datetime.fromtimestamp(body["published_at"], UTC),
                origin=str(body.get("origin", "")),
                seq=int(body.get("seq", 0)),
            )
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise ValueError(f"not a cycle update: {exc}") from exc
        return update, rows


def decode_states(rows: Sequence[Any]) -> list[FlightState]:
    """The states of rows from ``CycleUpdate.decode_head``; ``ValueError`` for a row this
    code cannot read."""
    try:
        return [state_from_row(row) for row in rows]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"not a cycle update: {exc}") from exc


class Numbering:
    """Numbers a channel's updates: ``origin`` is new for each instance. Thread-safe."""

    def __init__(self) -> None:
        self.origin = secrets.token_hex(6)
        self._next = itertools.count()
        self._lock = threading.Lock()

    def __call__(self, update: CycleUpdate) -> CycleUpdate:
        with self._lock:
            seq = next(self._next)
        return replace(update, origin=self.origin, seq=seq)


class Continuity:
    """Tells a listener whether an update follows the last one it got from its origin.

    The first update after ``restart`` (a new subscription, whose listener reads the
    current state from the store anyway) starts the count. After that, a skipped number,
    or a numbered origin not seen before (a restarted publisher: what its predecessor
    or its own first publications carried is unknown) is a gap. Not thread-safe: one
    listener's loop owns it.
    """

    def __init__(self) -> None:
        self._next: dict[str, int] = {}
        self._counting = False

    def restart(self) -> None:
        self._next.clear()
        self._counting = False

    def follows(self, update: CycleUpdate) -> bool:
        if not update.origin:
            return True
        expected = self._next.get(update.origin)
        self._next[update.origin] = update.seq + 1
        if not self._counting:
            self._counting = True
            return True
        return expected == update.seq
