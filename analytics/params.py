"""Arguments of the analytics queries, checked; each failure names the argument and limit.

A window is written in ISO 8601, one of three ways:

- a duration that ends now: ``PT30M``, ``PT6H``, ``P1D``, ``P2DT12H``;
- one UTC day: ``2026-11-26`` (its midnight to the next);
- an interval: ``2026-11-26T06:00:00Z/2026-11-26T18:00:00Z`` (both ends with a zone).

Every window is half-open, ``[start, end)``, in UTC, at most ``MAX_WINDOW`` long, and lies
between ``EARLIEST`` and ``MAX_WINDOW`` from now.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from domain import BoundingBox, InvalidArgument

MAX_WINDOW = timedelta(days=7)
# Nothing is stored from before the Unix epoch; a window may end at most MAX_WINDOW from now.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
MIN_CELL_DEG = 0.05
MAX_CELL_DEG = 45.0
# Cells of the grid over the box: global at 0.5 degrees is 259,200, too many for a page.
MAX_GRID_CELLS = 250_000
MIN_BUCKET_M = 50.0
MAX_BUCKET_M = 10_000.0
MAX_LIMIT = 500

_DURATION = re.compile(r"P(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)S)?)?")
_EXAMPLES = "PT6H, P1D, 2026-11-26 or 2026-11-26T06:00:00Z/2026-11-26T18:00:00Z"


@dataclass(frozen=True, slots=True)
class Window:
    """``[start, end)`` in UTC. ``label`` names it in cache keys; ``relative`` windows end
    at the time they were asked (a duration), so their answers move on with time."""

    start: datetime
    end: datetime
    label: str
    relative: bool = False

    def whole_days(self, today: date) -> list[date] | None:
        """The UTC days the window is made of, when it is whole days all before ``today``;
        else ``None`` (such days are complete, so a daily summary may hold them)."""
        if self.start.timetz() != _MIDNIGHT or self.end.timetz() != _MIDNIGHT:
            return None
        first, last = self.start.date(), self.end.date()
        if last > today:
            return None
        return [first + timedelta(days=n) for n in range((last - first).days)]


_MIDNIGHT = time(0, tzinfo=UTC)


def day_window(day: date) -> Window:
    start = datetime.combine(day, _MIDNIGHT)
    return Window(start, start + timedelta(days=1), day.isoformat())


def window(text: str, *, now: datetime) -> Window:
    """The window ``text`` describes; raises ``InvalidArgument``."""
    value = text.strip()
    if not value:
        raise InvalidArgument(f"window must not be blank; write it like {_EXAMPLES}")
    try:
        if value[0] in "pP":
            span = _duration(value)
            found = Window(now - span, now, _iso_duration(span), relative=True)
        elif "/" in value:
            found = _interval(value)
        else:
            found = day_window(_day(value))
    except OverflowError as exc:  # before 0001-01-01 or after 9999-12-31 in UTC
        raise _out_of_range(text, now) from exc
    if found.end - found.start > MAX_WINDOW:
        raise _too_long(text)
    if found.start < EARLIEST or found.end > now + MAX_WINDOW:
        raise _out_of_range(text, now)
    return found


def _out_of_range(text: str, now: datetime) -> InvalidArgument:
    latest = (now + MAX_WINDOW).date()
    return InvalidArgument(
        f"window {text!r} must lie between {EARLIEST:%Y-%m-%d} and {latest} (UTC)", value=text
    )


def _too_long(text: str) -> InvalidArgument:
    return InvalidArgument(
        f"window {text!r} is longer than {MAX_WINDOW.days} days; narrow it", value=text
    )


def _duration(value: str) -> timedelta:
    upper = value.upper()
    match = _DURATION.fullmatch(upper)
    if match is None or upper in {"P", "PT"} or upper.endswith("T"):
        raise InvalidArgument(
            f"window {value!r} is not an ISO 8601 duration such as PT6H or P1D", value=value
        )
    try:
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except (OverflowError, ValueError) as exc:  # ValueError: over int()'s 4,300 digits
        raise _too_long(value) from exc
    if span > MAX_WINDOW:
        raise _too_long(value)
    if span <= timedelta(0):
        raise InvalidArgument(f"window {value!r} must be longer than zero", value=value)
    return span


def _iso_duration(span: timedelta) -> str:
    """``span`` in the shortest ISO 8601 form: ``P1D``, ``PT6H``, ``P1DT30M``."""
    seconds = int(span.total_seconds())
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    clock = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidArgument(
            f"window {value!r} is not a duration, a day or an interval; write it like {_EXAMPLES}",
            value=value,
        ) from exc


def _interval(value: str) -> Window:
    start_text, _, end_text = value.partition("/")
    start, end = _instant(start_text), _instant(end_text)
    if start >= end:
        raise InvalidArgument(f"window {value!r} must start before it ends", value=value)
    label = f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}"
    return Window(start, end, label)


def _instant(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidArgument(
            f"{text!r} is not an ISO 8601 time such as 2026-11-26T06:00:00Z", value=text
        ) from exc
    if at.tzinfo is None:
        raise InvalidArgument(
            f"{text!r} must include a time zone, e.g. 2026-11-26T06:00:00Z", value=text
        )
    return at.astimezone(UTC)


def cell_deg(value: float, bbox: BoundingBox | None) -> float:
    """A grid cell size, whose grid over ``bbox`` (the globe without one) is not too big."""
    if not (math.isfinite(value) and MIN_CELL_DEG <= value <= MAX_CELL_DEG):
        raise InvalidArgument(
            f"cellDeg must be between {MIN_CELL_DEG} and {MAX_CELL_DEG} degrees, got {value}",
            value=value,
        )
    south, west, north, east = (-90.0, -180.0, 90.0, 180.0) if bbox is None else _box(bbox)
    width = east - west if east >= west else 360.0 - (west - east)
    cells = (math.floor((north - south) / value) + 1) * (math.floor(width / value) + 1)
    if cells > MAX_GRID_CELLS:
        raise InvalidArgument(
            f"a {value}-degree grid over that area has {cells:,} cells, more than "
            f"{MAX_GRID_CELLS:,}; use a larger cellDeg or a smaller bbox",
            value=value,
        )
    return value


def _box(bbox: BoundingBox) -> tuple[float, float, float, float]:
    return bbox.south, bbox.west, bbox.north, bbox.east


# The altitude bands' width when none is asked for: the dashboard's.
DEFAULT_BUCKET_M = 1000.0


def bucket_m(value: float) -> float:
    if not (math.isfinite(value) and MIN_BUCKET_M <= value <= MAX_BUCKET_M):
        raise InvalidArgument(
            f"bucketM must be between {MIN_BUCKET_M:g} and {MAX_BUCKET_M:g} metres, got {value}",
            value=value,
        )
    return value


def limit(value: int) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}, got {value}", value=value)
    return value
