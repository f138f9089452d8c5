"""Windows and the other analytics arguments: what they mean, and the messages they fail with."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from analytics import params
from domain import BoundingBox, InvalidArgument

NOW = datetime(2026, 11, 27, 10, 30, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "span", "label"),
    [
        ("PT6H", timedelta(hours=6), "PT6H"),
        ("pt30m", timedelta(minutes=30), "PT30M"),
        ("P1D", timedelta(days=1), "P1D"),
        ("PT24H", timedelta(days=1), "P1D"),
        ("P2DT12H", timedelta(days=2, hours=12), "P2DT12H"),
        ("PT90S", timedelta(seconds=90), "PT1M30S"),
    ],
)
def test_a_duration_ends_now(text: str, span: timedelta, label: str) -> None:
    window = params.window(text, now=NOW)

    assert (window.start, window.end) == (NOW - span, NOW)
    assert window.label == label
    assert window.relative


def test_a_day_and_an_interval() -> None:
    day = params.window("2026-11-20", now=NOW)
    interval = params.window("2026-11-20T06:00:00+01:00/2026-11-20t18:00z", now=NOW)

    assert (day.start, day.end) == (
        datetime(2026, 11, 20, tzinfo=UTC),
        datetime(2026, 11, 21, tzinfo=UTC),
    )
    assert day.label == "2026-11-20"
    assert not day.relative
    assert interval.start == datetime(2026, 11, 20, 5, tzinfo=UTC)
    assert interval.label == "20261120T050000Z/20261120T180000Z"


def test_whole_past_days() -> None:
    today = NOW.date()

    assert params.window("2026-11-20", now=NOW).whole_days(today) == [date(2026, 11, 20)]
    three = params.window("2026-11-24T00:00Z/2026-11-27T00:00Z", now=NOW)
    assert three.whole_days(today) == [date(2026, 11, d) for d in (24, 25, 26)]
    # Today is not over; a window that is not midnight to midnight is not whole days.
    assert params.window("2026-11-27", now=NOW).whole_days(today) is None
    assert params.window("2026-11-20T01:00Z/2026-11-21T00:00Z", now=NOW).whole_days(today) is None
    assert params.window("P1D", now=NOW).whole_days(today) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P8D", "window 'P8D' is longer than 7 days"),
        ("2026-11-01T00:00Z/2026-11-09T00:00Z", "longer than 7 days"),
        ("PT0S", "must be longer than zero"),
        ("P", "not an ISO 8601 duration"),
        ("P1DT", "not an ISO 8601 duration"),
        ("P1W", "not an ISO 8601 duration"),
        ("yesterday", "write it like PT6H, P1D, 2026-11-26"),
        ("  ", "window must not be blank"),
        ("2026-11-20T10:00/2026-11-20T12:00Z", "must include a time zone"),
        ("2026-11-20T12:00Z/2026-11-20T10:00Z", "must start before it ends"),
        ("2026-11-20T12:00Z/later", "'later' is not an ISO 8601 time"),
        ("PT999999999999H", "longer than 7 days"),
        ("P99999999999999999999D", "longer than 7 days"),
        ("P" + "9" * 5000 + "D", "longer than 7 days"),
        ("P\u0662D", "not an ISO 8601 duration"),  # an Arabic-Indic two
        ("9999-12-31", "must lie between 1970-01-01 and 2026-12-04"),
        ("9999-12-30", "must lie between 1970-01-01 and 2026-12-04"),
        ("2026-12-05", "must lie between 1970-01-01 and 2026-12-04"),
        ("1969-12-31", "must lie between 1970-01-01"),
        ("0001-01-01T00:00+01:00/0001-01-01T01:00+01:00", "must lie between 1970-01-01"),
        ("9999-12-31T23:00Z/9999-12-31T23:00-01:00", "must lie between 1970-01-01"),
    ],
)
def test_bad_windows_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        params.window(text, now=NOW)


def test_cell_size_limits_the_grid() -> None:
    europe = BoundingBox(35.0, -10.0, 60.0, 30.0)
    across = BoundingBox(-10.0, 170.0, 10.0, -170.0)

    assert params.cell_deg(1.0, None) == 1.0
    assert params.cell_deg(0.1, europe) == 0.1
    assert params.cell_deg(0.05, across) == 0.05  # 20 x 20 degrees across the antimeridian
    with pytest.raises(InvalidArgument, match="has 260,281 cells, more than 250,000"):
        params.cell_deg(0.5, None)
    for bad in (0.0, -1.0, 0.01, 46.0, float("nan"), float("inf")):
        with pytest.raises(InvalidArgument, match=r"cellDeg must be between 0\.05 and 45"):
            params.cell_deg(bad, None)


def test_bucket_and_limit() -> None:
    assert params.bucket_m(500.0) == 500.0
    assert params.limit(500) == 500
    with pytest.raises(InvalidArgument, match="bucketM must be between 50 and 10000 metres"):
        params.bucket_m(10.0)
    with pytest.raises(InvalidArgument, match="limit must be between 1 and 500, got 501"):
        params.limit(501)
