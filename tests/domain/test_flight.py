"""``FlightState``: OpenSky's state vector made canonical, and what it refuses."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from domain import FlightState, PositionSource, Source
from domain.flight import normalise_icao24

BASE = {"icao24": "3c6444", "last_contact": 1_700_000_000, "source": "OPENSKY"}


def state(**fields: object) -> FlightState:
    return FlightState.model_validate({**BASE, **fields})


def error_fields(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {str(e["loc"][0]) for e in exc.value.errors()}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("3C6444", "3c6444"), (" 3c6444 ", "3c6444"), ("ABCDEF", "abcdef"), ("000000", "000000")],
)
def test_icao24_is_normalised_to_six_lowercase_hex_digits(raw: str, expected: str) -> None:
    parsed = state(icao24=raw)
    assert parsed.icao24 == expected
    assert parsed.non_icao is False


@pytest.mark.parametrize("raw", ["~ABC123", "~abc123", " ~abc123"])
def test_tilde_marks_a_non_icao_address(raw: str) -> None:
    parsed = state(icao24=raw)
    assert parsed.icao24 == "abc123"
    assert parsed.non_icao is True


@pytest.mark.parametrize("raw", ["3c644", "3c64444", "3g6444", "", "~", "3c 644", 0x3C6444, None])
def test_bad_icao24_is_rejected(raw: object) -> None:
    with pytest.raises(ValidationError) as exc:
        state(icao24=raw)
    assert error_fields(exc) == {"icao24"}


def test_normalise_icao24_names_the_bad_value() -> None:
    with pytest.raises(ValueError, match="icao24 must be 6 hex digits, got 'xyz'"):
        normalise_icao24("xyz")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("UAL421  ", "UAL421"), ("  DLH9 ", "DLH9"), ("        ", None), ("", None), (None, None)],
)
def test_callsign_is_trimmed_and_blank_is_none(raw: str | None, expected: str | None) -> None:
    assert state(callsign=raw).callsign == expected


def test_callsign_must_be_text() -> None:
    with pytest.raises(ValidationError) as exc:
        state(callsign=1234)
    assert error_fields(exc) == {"callsign"}


def test_unix_seconds_become_aware_utc_datetimes() -> None:
    parsed = state(time_position=1_699_999_990, last_contact=1_700_000_000)
    assert parsed.last_contact == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert parsed.last_contact.utcoffset() == timedelta(0)
    assert parsed.time_position is not None
    assert parsed.time_position.tzinfo is not None
    assert parsed.time == parsed.time_position


def test_aware_datetimes_in_other_zones_are_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=2))
    parsed = state(last_contact=datetime(2024, 6, 1, 14, 0, tzinfo=paris))
    assert parsed.last_contact == datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    assert parsed.last_contact.tzinfo is UTC


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone-aware") as exc:
        state(last_contact=datetime(2024, 6, 1, 12, 0))  # noqa: DTZ001 - the point of the test
    assert error_fields(exc) == {"last_contact"}


def test_time_is_last_contact_when_position_time_is_missing() -> None:
    parsed = state(time_position=None)
    assert parsed.time == parsed.last_contact


def test_last_contact_and_source_are_required() -> None:
    with pytest.raises(ValidationError) as exc:
        FlightState.model_validate({"icao24": "3c6444"})
    assert error_fields(exc) == {"last_contact", "source"}


@pytest.mark.parametrize(("raw", "expected"), [(-150, 210.0), (-0.5, 359.5), (-360.0, 0.0)])
def test_flarm_negative_track_is_folded_into_0_360(raw: float, expected: float) -> None:
    track = state(true_track_deg=raw).true_track_deg
    assert track == pytest.approx(expected)
    assert track is not None
    assert 0.0 <= track < 360.0


def test_track_in_range_is_kept() -> None:
    assert state(true_track_deg=342.17).true_track_deg == 342.17


@pytest.mark.parametrize("field", ["latitude", "longitude", "baro_altitude_m", "velocity_mps"])
def test_nan_is_rejected(field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        state(**{field: math.nan})
    assert error_fields(exc) == {field}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latitude", 90.01),
        ("latitude", -91),
        ("longitude", 180.5),
        ("longitude", -181),
        ("baro_altitude_m", 25_001),
        ("geo_altitude_m", -501),
        ("velocity_mps", -1),
        ("velocity_mps", 601),
        ("true_track_deg", 360.5),
        ("vertical_rate_mps", 151),
        ("vertical_rate_mps", -151),
        ("category", 21),
        ("category", -1),
        ("position_source", 4),
    ],
)
def test_values_out_of_range_are_rejected(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as exc:
        state(**{field: value})
    assert error_fields(exc) == {field}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latitude", 90),
        ("latitude", -90),
        ("longitude", 180),
        ("longitude", -180),
        ("baro_altitude_m", -500),
        ("baro_altitude_m", 25_000),
        ("velocity_mps", 0),
        ("vertical_rate_mps", -150),
        ("category", 20),
    ],
)
def test_range_limits_are_inclusive(field: str, value: float) -> None:
    assert getattr(state(**{field: value}), field) == value


def test_enums_and_flags() -> None:
    parsed = state(position_source=2, source="REPLAY", on_ground=True, spi=True)
    assert parsed.position_source is PositionSource.MLAT
    assert parsed.source is Source.REPLAY
    assert parsed.on_ground is True
    assert parsed.spi is True


def test_unknown_source_and_unknown_field_are_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        state(source="FLIGHTRADAR", altitude_ft=35_000)
    assert error_fields(exc) == {"source", "altitude_ft"}


def test_has_position_needs_both_coordinates() -> None:
    assert state(latitude=1.0, longitude=2.0).has_position
    assert not state(latitude=1.0).has_position
    assert not state().has_position


def test_state_is_immutable() -> None:
    parsed = state()
    with pytest.raises(ValidationError):
        parsed.icao24 = "abcdef"  # type: ignore[misc]
