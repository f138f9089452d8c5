"""``Airport``: codes normalised, blanks dropped, positions in range."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain import Airport


def airport(**fields: object) -> Airport:
    values: dict[str, object] = {
        "icao": "EGLL",
        "name": "London Heathrow Airport",
        "latitude": 51.4706,
        "longitude": -0.46194,
    }
    return Airport.model_validate({**values, **fields})


@pytest.mark.parametrize(
    ("raw", "expected"), [("egll", "EGLL"), (" KJFK ", "KJFK"), ("00a", "00A")]
)
def test_icao_is_upper_cased_and_trimmed(raw: str, expected: str) -> None:
    assert airport(icao=raw).icao == expected


def test_ourairports_idents_are_accepted_as_icao() -> None:
    assert airport(icao="ZZ-0001").icao == "ZZ-0001"


@pytest.mark.parametrize("raw", ["EG", "EGLLEGLLX", "EG LL", "EG_L", ""])
def test_bad_icao_is_rejected(raw: str) -> None:
    with pytest.raises(ValidationError, match="airport code must be 3 to 8"):
        airport(icao=raw)


@pytest.mark.parametrize(("raw", "expected"), [("lhr", "LHR"), (" LHR ", "LHR"), ("", None)])
def test_iata_is_upper_cased_and_blank_is_none(raw: str, expected: str | None) -> None:
    assert airport(iata=raw).iata == expected


def test_missing_iata_is_none() -> None:
    assert airport(iata=None).iata is None


@pytest.mark.parametrize("raw", ["LH", "LHRX", "L-R"])
def test_bad_iata_is_rejected(raw: str) -> None:
    with pytest.raises(ValidationError, match="IATA code must be 3 letters or digits"):
        airport(iata=raw)


def test_blank_text_fields_are_none() -> None:
    parsed = airport(city=" ", region="", country="  ", time_zone="", type="")
    assert (parsed.city, parsed.region, parsed.country, parsed.time_zone, parsed.type) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert airport(city="London").city == "London"


@pytest.mark.parametrize(("field", "value"), [("latitude", 90.1), ("longitude", -180.1)])
def test_position_out_of_range_is_rejected(field: str, value: float) -> None:
    with pytest.raises(ValidationError):
        airport(**{field: value})


def test_airport_is_immutable() -> None:
    with pytest.raises(ValidationError):
        airport().name = "Gatwick"  # type: ignore[misc]
