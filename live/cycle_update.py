"""What one ingest cycle publishes: the states it stored, and its wire format."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
            }
        )
        return b"".join(
            (head[:-1], b',"states":[', b",".join(map(encode_state, self.states)), b"]}")
        )

    @classmethod
    def decode(cls, message: bytes) -> CycleUpdate:
        """The update in ``message``; ``ValueError`` when it is not one this code reads."""
        try:
            body: dict[str, Any] = orjson.loads(message)
            if body.get("v") != _VERSION:
                raise ValueError(f"cycle update version {body.get('v')!r}, expected {_VERSION}")
            return cls(
                cycle_id=str(body["cycle_id"]),
                at=datetime.fromtimestamp(body["at"], UTC),
                states=[state_from_row(row) for row in body["states"]],
                published_at=datetime.fromtimestamp(body["published_at"], UTC),
            )
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"not a cycle update: {exc}") from exc
