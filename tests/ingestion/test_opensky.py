"""OpenSky ``states/all``: the pure normaliser on recorded responses. The HTTP side is in
``test_opensky_client.py``, against the fake upstream server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from domain import Source
from ingestion.errors import UpstreamError
from ingestion.opensky import normalise_states
from testkit import FIXTURES

SMALL = FIXTURES / "opensky_states_small_4_18field.json"
ALPS = FIXTURES / "opensky_states_bbox_alps_79.json"
FIRST500 = FIXTURES / "opensky_states_all_18field_first500.json"


def load(path: Any) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_18_element_rows_map_every_field() -> None:
    result = normalise_states(load(SMALL))
    assert result.rejects == []
    assert result.observed_at == datetime(2023, 5, 7, 19, 45, 44, tzinfo=UTC)
    assert len(result.candidates) == 4
    first = result.candidates[0]
    assert first.raw == [
        "ab1644", "UAL421  ", "United States", 1683488743, 1683488743, -71.1656, 42.5372,
        2217.42, False, 137.8, 342.17, 13, None, 2194.56, None, False, 0, 4,
    ]  # fmt: skip
    assert first.fields == {
        "icao24": "ab1644",
        "callsign": "UAL421  ",
        "origin_country": "United States",
        "time_position": 1683488743,
        "last_contact": 1683488743,
        "longitude": -71.1656,
        "latitude": 42.5372,
        "baro_altitude_m": 2217.42,
        "on_ground": False,
        "velocity_mps": 137.8,
        "true_track_deg": 342.17,
        "vertical_rate_mps": 13,
        "geo_altitude_m": 2194.56,
        "squawk": None,
        "spi": False,
        "position_source": 0,
        "category": 4,
        "source": Source.OPENSKY,
    }
    assert [c.fields["category"] for c in result.candidates] == [4, 1, 1, -1]


def test_17_element_rows_have_no_category() -> None:
    result = normalise_states(load(ALPS))
    assert len(result.candidates) == 79
    assert result.rejects == []
    assert {c.fields["category"] for c in result.candidates} == {None}
    assert sum(c.fields["on_ground"] for c in result.candidates) == 8
    assert result.observed_at == datetime(2026, 7, 29, 14, 14, 7, tzinfo=UTC)


def test_pretty_printed_global_response() -> None:
    result = normalise_states(load(FIRST500))
    assert len(result.candidates) == 500
    assert all(isinstance(c.fields["category"], int) for c in result.candidates)
    assert sum(c.fields["latitude"] is None for c in result.candidates) == 4


def test_source_is_stamped_on_every_candidate() -> None:
    result = normalise_states(load(SMALL), Source.REPLAY)
    assert {c.fields["source"] for c in result.candidates} == {Source.REPLAY}


def test_null_states_means_no_aircraft() -> None:
    result = normalise_states({"time": 1683488744, "states": None})
    assert (result.candidates, result.rejects) == ([], [])
    assert result.observed_at == datetime(2023, 5, 7, 19, 45, 44, tzinfo=UTC)


@pytest.mark.parametrize(
    "row", [["ab1644", "UAL421  "], "ab1644", None, {"icao24": "ab1644"}, list(range(16))]
)
def test_malformed_row_is_rejected_not_raised(row: Any) -> None:
    good = load(SMALL)["states"][0]
    result = normalise_states({"time": 1, "states": [good, row, good]})
    assert len(result.candidates) == 2
    [reject] = result.rejects
    assert reject.reason == "malformed_row"
    assert reject.raw == row
    assert "17 or 18" in reject.detail


@pytest.mark.parametrize(
    "payload",
    [[], None, "states", {"time": 1}, {"error": "Too many requests"}, {"states": "none"}],
)
def test_not_a_states_response(payload: Any) -> None:
    with pytest.raises(UpstreamError, match="not an OpenSky states response"):
        normalise_states(payload)


@pytest.mark.parametrize("time", [None, "1683488744", True])
def test_observed_at_needs_a_numeric_time(time: Any) -> None:
    assert normalise_states({"time": time, "states": []}).observed_at is None
    assert normalise_states({"states": []}).observed_at is None
