"""Typed pipeline events and the bus they are published on.

The five events of the architecture: FlightDataReceived, FlightDataProcessed,
DataQualityAlert, RateLimitExceeded and SystemHealthCheck. ``detail()`` is the JSON-ready
body (EventBridge's ``Detail``); ``detail_type`` is the event's name.

``InProcessBus`` is the embedded default: handlers run synchronously in the publisher's
thread and a handler that raises is logged, never propagated to the publisher. It keeps
the most recent events for inspection. Thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class Event:
    detail_type: ClassVar[str]
    at: datetime = field(default_factory=_now)

    def detail(self) -> dict[str, Any]:
        body = asdict(self)
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in body.items()}


@dataclass(frozen=True, kw_only=True)
class FlightDataReceived(Event):
    detail_type: ClassVar[str] = "FlightDataReceived"
    source: str
    cycle_id: str
    bytes: int
    archive_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class FlightDataProcessed(Event):
    detail_type: ClassVar[str] = "FlightDataProcessed"
    source: str
    cycle_id: str
    received: int
    stored: int
    rejected: int
    duplicates: int
    changed: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class DataQualityAlert(Event):
    detail_type: ClassVar[str] = "DataQualityAlert"
    source: str
    cycle_id: str
    reject_rate: float
    threshold: float
    reasons: dict[str, int]


@dataclass(frozen=True, kw_only=True)
class RateLimitExceeded(Event):
    detail_type: ClassVar[str] = "RateLimitExceeded"
    source: str
    retry_after_s: float | None
    remaining: int | None = None
    client: str | None = None


@dataclass(frozen=True, kw_only=True)
class SystemHealthCheck(Event):
    detail_type: ClassVar[str] = "SystemHealthCheck"
    status: str
    checks: dict[str, str]


EVENT_TYPES: tuple[type[Event], ...] = (
    FlightDataReceived,
    FlightDataProcessed,
    DataQualityAlert,
    RateLimitExceeded,
    SystemHealthCheck,
)

Handler = Callable[[Event], None]


class EventBus(Protocol):
    def publish(self, event: Event) -> None: ...


class InProcessBus:
    def __init__(self, keep: int = 200) -> None:
        self._handlers: list[Handler] = []
        self._lock = threading.Lock()
        self.recent: deque[Event] = deque(maxlen=keep)

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` for every event; returns a function that unsubscribes it."""
        with self._lock:
            self._handlers.append(handler)

        def unsubscribe() -> None:
            with self._lock:
                if handler in self._handlers:
                    self._handlers.remove(handler)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            handlers = list(self._handlers)
            self.recent.append(event)
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event handler failed for %s", event.detail_type)
