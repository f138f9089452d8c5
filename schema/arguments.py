"""Argument checks shared by resolvers; each failure names the argument and the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import InvalidArgument
from domain.flight import normalise_icao24


def page_size(first: int, maximum: int) -> int:
    if first < 1 or first > maximum:
        raise InvalidArgument(
            f"first must be between 1 and {maximum} (MAX_PAGE_SIZE), got {first}", value=first
        )
    return first


def count(name: str, value: int, maximum: int) -> int:
    """A number of items asked for: 1 to ``maximum``."""
    if not 1 <= value <= maximum:
        raise InvalidArgument(f"{name} must be between 1 and {maximum}, got {value}", value=value)
    return value


def icao24(value: str) -> str:
    try:
        return normalise_icao24(value)
    except ValueError as exc:
        raise InvalidArgument(
            f'icao24 must be 6 hexadecimal digits such as "3c6444", got {value!r}', value=value
        ) from exc


MAX_AIRCRAFT = 1000


def aircraft(values: list[str]) -> frozenset[str]:
    """A subscription's aircraft: 1 to ``MAX_AIRCRAFT`` icao24, normalised."""
    if not 1 <= len(values) <= MAX_AIRCRAFT:
        raise InvalidArgument(
            f"icao24 must list between 1 and {MAX_AIRCRAFT} aircraft, got {len(values)}"
        )
    return frozenset(icao24(code) for code in values)


def aware(name: str, value: datetime | None) -> datetime | None:
    """``value``, which must name its time zone (a time without one is ambiguous)."""
    if value is not None and value.tzinfo is None:
        raise InvalidArgument(f"{name} must include a time zone, e.g. 2024-01-15T14:00:00Z")
    return value


DEFAULT_TRACK_WINDOW = timedelta(hours=1)
MAX_TRACK_WINDOW = timedelta(days=2)


def track_window(
    start: datetime | None, end: datetime | None, *, reference: datetime
) -> tuple[datetime, datetime]:
    """The ``[start, end]`` of a track; by default the hour up to ``reference``."""
    aware("start", start)
    aware("end", end)
    try:
        window_end = end or (start + DEFAULT_TRACK_WINDOW if start else reference)
        window_start = start or window_end - DEFAULT_TRACK_WINDOW
        in_utc = window_start.astimezone(UTC), window_end.astimezone(UTC)
    except OverflowError as exc:  # before 0001-01-01 or after 9999-12-31 in UTC
        raise InvalidArgument(
            "a track's start and end must lie between 0001-01-01 and 9999-12-31 (UTC)"
        ) from exc
    if window_start > window_end:
        raise InvalidArgument(
            f"start ({window_start.isoformat()}) must not be after end ({window_end.isoformat()})"
        )
    if window_end - window_start > MAX_TRACK_WINDOW:
        raise InvalidArgument(f"a track spans at most {MAX_TRACK_WINDOW}; narrow start and end")
    return in_utc
