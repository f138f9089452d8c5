"""OurAirports CSV parsing, on real sample files and on hand-made bad rows."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import pytest

from domain.airport import Airport
from domain.runway import Runway
from ingestion.ourairports import (
    CsvLayoutError,
    ParseResult,
    airport_codes_by_ident,
    parse_airports,
    parse_runways,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LARGE_AIRPORTS = FIXTURES / "ourairports_airports_all_large_airport.csv"
HEAD_AIRPORTS = FIXTURES / "ourairports_airports_head300.csv"
LARGE_RUNWAYS = FIXTURES / "ourairports_runways_of_large_airports.csv"
HEAD_RUNWAYS = FIXTURES / "ourairports_runways_head300.csv"

FT = 0.3048


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _airports(path: Path) -> ParseResult[Airport]:
    with path.open(newline="", encoding="utf-8") as stream:
        return parse_airports(stream)


def _runways(path: Path, codes: dict[str, str] | None = None) -> ParseResult[Runway]:
    with path.open(newline="", encoding="utf-8") as stream:
        return parse_runways(stream, airport_codes=codes)


def _by_icao(airports: list[Airport]) -> dict[str, Airport]:
    return {airport.icao: airport for airport in airports}


def _without_column(text: str, column: str) -> str:
    """The CSV with one column dropped, as an older OurAirports export would be."""
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    names = [name for name in rows[0] if name != column]
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _header() -> str:
    return _read(HEAD_AIRPORTS).splitlines()[0]


def _airport_line(
    ident: str,
    *,
    kind: str = "small_airport",
    lat: str = "40.0",
    lon: str = "-74.0",
    elevation: str = "100",
    iata: str = "",
    name: str = "Test Field",
) -> str:
    # Columns as in the current 19-column header.
    return (
        f'1,"{ident}","{kind}","{name}",{lat},{lon},{elevation},"NA","US","US-NJ","Town","no",'
        f',"{iata}","","",,,'
    )


def test_all_large_airports_parse_without_rejects() -> None:
    result = _airports(LARGE_AIRPORTS)

    assert result.rejects == []
    assert len(result.items) == 1172
    assert {airport.type for airport in result.items} == {"large_airport"}
    assert len(_by_icao(result.items)) == 1172  # codes are unique


def test_heathrow_fields() -> None:
    egll = _by_icao(_airports(LARGE_AIRPORTS).items)["EGLL"]

    assert egll.iata == "LHR"
    assert "Heathrow" in egll.name
    assert egll.city == "London"
    assert egll.country == "GB"
    assert egll.region == "GB-ENG"
    assert egll.latitude == pytest.approx(51.470748)
    assert egll.longitude == pytest.approx(-0.459909)
    assert egll.elevation_m == pytest.approx(83 * FT, abs=0.05)
    assert egll.time_zone is None


def test_icao_code_wins_over_ident() -> None:
    airports = _by_icao(_airports(LARGE_AIRPORTS).items)

    # Lima's ident is SPIM but its ICAO code is SPJC; Navi Mumbai's ident is IN-0276.
    assert "SPIM" not in airports
    assert airports["SPJC"].iata == "LIM"
    assert "Navi Mumbai" in airports["VANM"].name


def test_head300_heliports_and_closed_are_accepted() -> None:
    result = _airports(HEAD_AIRPORTS)

    assert result.rejects == []
    assert len(result.items) == 300
    assert Counter(airport.type for airport in result.items) == {
        "small_airport": 178,
        "heliport": 109,
        "seaplane_base": 9,
        "closed": 4,
    }
    # No icao_code and gps_code "K00A" is not ICAO-shaped: the ident is the code.
    total_rf = _by_icao(result.items)["00A"]
    assert total_rf.type == "heliport"
    assert total_rf.iata is None


def test_empty_elevation_is_none() -> None:
    head = _by_icao(_airports(HEAD_AIRPORTS).items)
    large = _by_icao(_airports(LARGE_AIRPORTS).items)

    assert head["01MD"].elevation_m is None
    assert head["00XA"].city is None  # empty municipality
    assert large["ZGOW"].elevation_m is None
    assert sum(airport.elevation_m is None for airport in large.values()) == 7


def test_file_without_icao_code_column_uses_ident() -> None:
    text = _without_column(_read(HEAD_AIRPORTS), "icao_code")
    assert "icao_code" not in text.splitlines()[0]

    result = parse_airports(io.StringIO(text, newline=""))

    assert result.rejects == []
    assert [airport.icao for airport in result.items] == [
        row["ident"] for row in csv.DictReader(io.StringIO(_read(HEAD_AIRPORTS), newline=""))
    ]


def test_file_without_icao_code_column_falls_back_to_gps_code() -> None:
    text = _without_column(_read(LARGE_AIRPORTS), "icao_code")

    result = parse_airports(io.StringIO(text, newline=""))
    airports = _by_icao(result.items)

    assert result.rejects == []
    assert len(result.items) == 1172
    assert airports["EGLL"].iata == "LHR"
    assert airports["SPJC"].iata == "LIM"  # gps_code SPJC, ident SPIM
    assert "YE-0012" in airports  # no gps_code at all: the ident


def test_bad_rows_are_rejected_and_the_rest_parse() -> None:
    lines = [
        _header(),
        _airport_line("AAA1"),
        _airport_line("BAD1", lat="123"),
        _airport_line("BAD2", kind="spaceport"),
        _airport_line("BAD3", elevation="high"),
        _airport_line("BAD4", iata="TOOLONG"),
        _airport_line("BAD5", lat=""),
        _airport_line("AAA2", elevation=""),
    ]

    result = parse_airports(io.StringIO("\n".join(lines) + "\n", newline=""))

    assert [airport.icao for airport in result.items] == ["AAA1", "AAA2"]
    assert [(reject.line, reject.reason) for reject in result.rejects] == [
        (3, "invalid_coordinates"),
        (4, "unknown_type"),
        (5, "invalid_elevation"),
        (6, "invalid_code"),
        (7, "invalid_coordinates"),
    ]
    assert [reject.raw["ident"] for reject in result.rejects] == [
        "BAD1",
        "BAD2",
        "BAD3",
        "BAD4",
        "BAD5",
    ]
    assert "spaceport" in result.rejects[1].detail
    assert "elevation_ft" in result.rejects[2].detail


def test_short_and_long_rows_are_rejected() -> None:
    lines = [
        _header(),
        '2,"SHRT","small_airport","Short Row",40.0',
        _airport_line("LONG") + ",surplus",
        _airport_line("GOOD"),
    ]

    result = parse_airports(io.StringIO("\n".join(lines), newline=""))

    assert [airport.icao for airport in result.items] == ["GOOD"]
    assert [(reject.line, reject.reason) for reject in result.rejects] == [
        (2, "missing_column"),
        (3, "invalid_row"),
    ]
    assert "longitude_deg" in result.rejects[0].detail


def test_reject_line_counts_quoted_newlines() -> None:
    lines = [
        _header(),
        _airport_line("MULT", name="Two\nLines"),
        _airport_line("BAD1", kind="spaceport"),
    ]

    result = parse_airports(io.StringIO("\n".join(lines), newline=""))

    assert result.items[0].name == "Two\nLines"
    assert [reject.line for reject in result.rejects] == [4]


def test_header_without_latitude_raises() -> None:
    text = _without_column(_read(HEAD_AIRPORTS), "latitude_deg")

    with pytest.raises(CsvLayoutError, match="latitude_deg") as caught:
        parse_airports(io.StringIO(text, newline=""))

    assert caught.value.missing == ("latitude_deg",)
    assert isinstance(caught.value, ValueError)


def test_empty_file_raises() -> None:
    with pytest.raises(CsvLayoutError, match="empty"):
        parse_airports([])


def test_runways_of_large_airports() -> None:
    result = _runways(LARGE_RUNWAYS)

    assert result.rejects == []
    assert len(result.items) == 1939
    assert len({runway.airport_icao for runway in result.items}) == 1171


def test_heathrow_runways() -> None:
    egll = {
        runway.ident: runway
        for runway in _runways(LARGE_RUNWAYS).items
        if runway.airport_icao == "EGLL"
    }

    assert set(egll) == {"09L/27R", "09R/27L"}
    north = egll["09L/27R"]
    assert north.length_m == pytest.approx(12799 * FT, abs=0.05)  # 3901.1 m
    assert north.width_m == pytest.approx(164 * FT, abs=0.05)
    assert north.surface == "ASP"
    assert north.lighted is True
    assert north.closed is False
    assert (north.le_ident, north.he_ident) == ("09L", "27R")
    assert north.le_latitude == pytest.approx(51.47749)
    assert north.he_longitude == pytest.approx(-0.433227)
    assert north.le_elevation_m == pytest.approx(79 * FT, abs=0.05)
    assert (north.le_heading_deg, north.he_heading_deg) == (90.0, 270.0)


def test_runway_with_one_end_and_no_position() -> None:
    runways = _runways(LARGE_RUNWAYS).items
    helipad = next(r for r in runways if r.airport_icao == "EDDS" and r.le_ident == "H-NORTH")

    assert helipad.ident == "H-NORTH"
    assert helipad.he_ident is None
    assert helipad.he_latitude is None
    assert helipad.le_elevation_m is None


def test_runway_airports_join_to_airport_codes() -> None:
    with LARGE_AIRPORTS.open(newline="", encoding="utf-8") as stream:
        codes = airport_codes_by_ident(stream)
    airports = _by_icao(_airports(LARGE_AIRPORTS).items)

    runways = _runways(LARGE_RUNWAYS, codes).items

    assert codes["SPIM"] == "SPJC"
    assert {runway.airport_icao for runway in runways} <= set(airports)
    assert sum(runway.airport_icao == "SPJC" for runway in runways) == 2


def test_runways_head300_rejects_negative_width() -> None:
    result = _runways(HEAD_RUNWAYS)

    assert len(result.items) == 299
    assert [(reject.line, reject.reason) for reject in result.rejects] == [
        (148, "invalid_dimension")
    ]
    assert result.rejects[0].raw["airport_ident"] == "02NJ"
    assert "width_ft" in result.rejects[0].detail


def test_bad_runway_flags_and_headings_are_rejected() -> None:
    header = _read(HEAD_RUNWAYS).splitlines()[0]
    lines = [
        header,
        '1,2,"AAA1",1000,50,"ASP",1,0,"09",,,,,,"27",,,,,',
        '2,2,"AAA1",1000,50,"ASP",yes,0,"09",,,,,,"27",,,,,',
        '3,2,"AAA1",1000,50,"ASP",1,0,"09",,,,400,,"27",,,,,',
        '4,2,"AAA1",1000,50,"ASP",1,0,"09",51.0,,,,,"27",,,,,',
    ]

    result = parse_runways(io.StringIO("\n".join(lines), newline=""))

    assert [runway.ident for runway in result.items] == ["09/27"]
    assert [(reject.line, reject.reason) for reject in result.rejects] == [
        (3, "invalid_flag"),
        (4, "invalid_heading"),
        (5, "invalid_coordinates"),
    ]
