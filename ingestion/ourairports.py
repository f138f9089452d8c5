"""Parse the OurAirports CSV files (``airports.csv``, ``runways.csv``) into domain models.

Pure parsing: the functions take the lines of an already opened text stream (open files with
``newline=""`` and ``encoding="utf-8"``, as the :mod:`csv` module asks) and do no other I/O.
Rows that cannot become a model are not raised but returned as :class:`RowReject` next to the
parsed items, so one bad row never costs the rest of the file. A header that lacks a column the
parser cannot do without raises :class:`CsvLayoutError` instead: then no row is usable.

``airports.csv``, current format (19 columns, one airport a row)::

    id, ident, type, name, latitude_deg, longitude_deg, elevation_ft, continent,
    iso_country, iso_region, municipality, scheduled_service, icao_code, iata_code,
    gps_code, local_code, home_link, wikipedia_link, keywords

The older format (18 columns) lacks ``icao_code``. Required: ``ident``, ``type``, ``name``,
``latitude_deg``, ``longitude_deg``; any other column may be absent. Mapping to ``Airport``:

- ``icao``: ``icao_code``; when absent or empty, ``gps_code`` if it is four letters (the shape
  of an ICAO code), else ``ident`` (``00A``, ``ZZ-0001``...). Upper case.
- ``iata_code`` -> ``iata``, ``municipality`` -> ``city``, ``iso_country`` -> ``country``,
  ``iso_region`` -> ``region``; empty -> ``None``.
- ``elevation_ft`` -> ``elevation_m`` (feet x 0.3048, to 0.1 m); empty -> ``None``.
- ``type`` must be one of :data:`AIRPORT_TYPES`. The data dictionary lists six, but the data
  also holds ``closed`` (e.g. ``01TA``) and ``balloonport``.

``runways.csv`` (20 columns, one runway a row; ``le`` is the low end, ``he`` the high end)::

    id, airport_ref, airport_ident, length_ft, width_ft, surface, lighted, closed,
    le_ident, le_latitude_deg, le_longitude_deg, le_elevation_ft, le_heading_degT,
    le_displaced_threshold_ft, he_ident, he_latitude_deg, he_longitude_deg,
    he_elevation_ft, he_heading_degT, he_displaced_threshold_ft

Required: :data:`RUNWAY_REQUIRED_COLUMNS`; the end positions, elevations and headings may be
absent. Lengths and elevations are feet (converted to metres), headings true degrees,
``lighted``/``closed`` are ``0``/``1``, and empty numbers become ``None``.

``airport_ident`` is the airport's *ident*, which is not always its ``icao_code`` (e.g. ident
``SPIM``, ICAO ``SPJC``). Pass :func:`airport_codes_by_ident` of the airports file to
:func:`parse_runways` so that ``Runway.airport_icao`` matches ``Airport.icao``.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from pydantic import ValidationError

from domain.airport import Airport
from domain.runway import Runway
from domain.units import FT_TO_M

__all__ = [
    "AIRPORT_REQUIRED_COLUMNS",
    "AIRPORT_TYPES",
    "RUNWAY_REQUIRED_COLUMNS",
    "CsvLayoutError",
    "ParseResult",
    "RowReject",
    "airport_codes_by_ident",
    "parse_airports",
    "parse_runways",
]

T = TypeVar("T")

AIRPORT_TYPES = frozenset(
    {
        "large_airport",
        "medium_airport",
        "small_airport",
        "heliport",
        "seaplane_base",
        "closed_airport",
        "closed",
        "balloonport",
    }
)
AIRPORT_REQUIRED_COLUMNS = ("ident", "type", "name", "latitude_deg", "longitude_deg")
RUNWAY_REQUIRED_COLUMNS = (
    "airport_ident",
    "length_ft",
    "width_ft",
    "surface",
    "lighted",
    "closed",
    "le_ident",
    "he_ident",
)

# Only letters: a gps_code such as "K00A" is an FAA-style code, not an ICAO one.
_ICAO_LIKE_RE = re.compile(r"[A-Z]{4}")

# Which reject reason a pydantic error on a model field stands for.
_REASON_BY_FIELD = {
    "icao": "invalid_code",
    "iata": "invalid_code",
    "airport_icao": "invalid_code",
    "latitude": "invalid_coordinates",
    "longitude": "invalid_coordinates",
    "le_latitude": "invalid_coordinates",
    "le_longitude": "invalid_coordinates",
    "he_latitude": "invalid_coordinates",
    "he_longitude": "invalid_coordinates",
    "elevation_m": "invalid_elevation",
    "le_elevation_m": "invalid_elevation",
    "he_elevation_m": "invalid_elevation",
    "length_m": "invalid_dimension",
    "width_m": "invalid_dimension",
    "le_heading_deg": "invalid_heading",
    "he_heading_deg": "invalid_heading",
}

Row = Mapping[str, str]


class CsvLayoutError(ValueError):
    """The header lacks columns the parser needs, so no row of the file can be used."""

    def __init__(self, missing: Sequence[str], message: str | None = None) -> None:
        self.missing = tuple(missing)
        super().__init__(message or f"CSV header lacks required column(s): {', '.join(missing)}")


@dataclass(frozen=True, slots=True)
class RowReject:
    """A row that was skipped: where (``line``, 1-based, header = line 1) and why.

    ``reason`` is a short code (``unknown_type``, ``invalid_coordinates``...), ``detail`` says
    what was wrong in words, and ``raw`` is the row as read, column name to text.
    """

    line: int
    reason: str
    detail: str
    raw: dict[str, str]


@dataclass(frozen=True, slots=True)
class ParseResult(Generic[T]):
    """The rows that became models, in file order, and the rows that did not."""

    items: list[T]
    rejects: list[RowReject]


class _RowError(Exception):
    """A row cannot become a model; carries the reject's reason code and detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse_airports(lines: Iterable[str]) -> ParseResult[Airport]:
    """Airports of an OurAirports ``airports.csv`` (current or 18-column format)."""
    return _parse(lines, AIRPORT_REQUIRED_COLUMNS, _airport)


def parse_runways(
    lines: Iterable[str], *, airport_codes: Mapping[str, str] | None = None
) -> ParseResult[Runway]:
    """Runways of an OurAirports ``runways.csv``.

    ``airport_codes`` maps an airport ident to its ``Airport.icao`` where the two differ (see
    :func:`airport_codes_by_ident`); without it ``airport_icao`` is the ident.
    """
    codes = airport_codes or {}
    return _parse(lines, RUNWAY_REQUIRED_COLUMNS, lambda row: _runway(row, codes))


def airport_codes_by_ident(lines: Iterable[str]) -> dict[str, str]:
    """Ident -> ``Airport.icao`` for the airports of ``airports.csv`` whose two codes differ."""
    codes: dict[str, str] = {}
    for row in _reader(lines, AIRPORT_REQUIRED_COLUMNS):
        ident = (row.get("ident") or "").strip().upper()
        code = _airport_code(row)
        if ident and code != ident:
            codes[ident] = code
    return codes


def _parse(
    lines: Iterable[str], required: Sequence[str], build: Callable[[Row], T]
) -> ParseResult[T]:
    reader = _reader(lines, required)
    items: list[T] = []
    rejects: list[RowReject] = []
    for row in reader:
        try:
            items.append(build(_whole(row)))
        except _RowError as exc:
            rejects.append(_reject(reader.line_num, row, exc.reason, exc.detail))
        except ValidationError as exc:
            rejects.append(_reject(reader.line_num, row, *_explain(exc)))
    return ParseResult(items, rejects)


def _reader(lines: Iterable[str], required: Sequence[str]) -> csv.DictReader[str]:
    reader = csv.DictReader(lines)
    header = reader.fieldnames  # reads the header line
    if header is None:
        raise CsvLayoutError(required, "CSV is empty: no header line")
    # A UTF-8 BOM (file opened as "utf-8", not "utf-8-sig") or padding must not hide a column.
    reader.fieldnames = [name.lstrip("\ufeff").strip() for name in header]
    missing = [column for column in required if column not in reader.fieldnames]
    if missing:
        raise CsvLayoutError(missing)
    return reader


def _whole(row: Mapping[str | None, str | list[str] | None]) -> Row:
    """The row itself once it has exactly one value per header column."""
    # DictReader files surplus values under the key None and pads short rows with None.
    extra = row.get(None)
    if extra is not None:
        raise _RowError("invalid_row", f"{len(extra)} value(s) more than the header: {extra!r}")
    absent = [str(name) for name, value in row.items() if value is None]
    if absent:
        raise _RowError("missing_column", f"row ends before column(s): {', '.join(absent)}")
    return cast(Row, row)


def _reject(end_line: int, row: Mapping[str | None, object], reason: str, detail: str) -> RowReject:
    raw = {
        name: value for name, value in row.items() if name is not None and isinstance(value, str)
    }
    # csv counts the lines read so far, i.e. the record's last line; quoted newlines inside
    # it put its first line earlier.
    first_line = end_line - sum(value.count("\n") for value in raw.values())
    return RowReject(first_line, reason, detail, raw)


def _explain(exc: ValidationError) -> tuple[str, str]:
    """Reason code (from the first failing field) and a one-line detail of every error."""
    errors = exc.errors(include_url=False)
    loc = errors[0]["loc"]
    field = str(loc[0]) if loc else ""
    reason = _REASON_BY_FIELD.get(field, f"invalid_{field}" if field else "invalid_row")
    detail = "; ".join(
        f"{'.'.join(map(str, error['loc']))}: {error['msg']} (got {error['input']!r})"
        for error in errors
    )
    return reason, detail


def _airport(row: Row) -> Airport:
    kind = row["type"].strip().lower()
    if kind not in AIRPORT_TYPES:
        raise _RowError("unknown_type", f"type {row['type']!r} is not an OurAirports airport type")
    latitude, longitude = _position(row, "latitude_deg", "longitude_deg")
    if latitude is None or longitude is None:
        raise _RowError("invalid_coordinates", "latitude_deg and longitude_deg are required")
    return Airport(
        icao=_airport_code(row),
        iata=_text(row, "iata_code"),
        name=row["name"].strip(),
        city=_text(row, "municipality"),
        country=_text(row, "iso_country"),
        region=_text(row, "iso_region"),
        latitude=latitude,
        longitude=longitude,
        elevation_m=_metres(row, "elevation_ft", "invalid_elevation"),
        type=kind,
    )


def _airport_code(row: Mapping[str, str | None]) -> str:
    icao = (row.get("icao_code") or "").strip().upper()
    if icao:
        return icao
    gps = (row.get("gps_code") or "").strip().upper()
    if _ICAO_LIKE_RE.fullmatch(gps):
        return gps
    return (row.get("ident") or "").strip().upper()


def _runway(row: Row, codes: Mapping[str, str]) -> Runway:
    ident = row["airport_ident"].strip().upper()
    le_ident, he_ident = _text(row, "le_ident"), _text(row, "he_ident")
    le_latitude, le_longitude = _position(row, "le_latitude_deg", "le_longitude_deg")
    he_latitude, he_longitude = _position(row, "he_latitude_deg", "he_longitude_deg")
    return Runway(
        airport_icao=codes.get(ident, ident),
        ident="/".join(end for end in (le_ident, he_ident) if end) or None,
        length_m=_size(row, "length_ft"),
        width_m=_size(row, "width_ft"),
        surface=_text(row, "surface"),
        lighted=_flag(row, "lighted"),
        closed=_flag(row, "closed"),
        le_ident=le_ident,
        le_latitude=le_latitude,
        le_longitude=le_longitude,
        le_elevation_m=_metres(row, "le_elevation_ft", "invalid_elevation"),
        le_heading_deg=_number(row, "le_heading_degT", "invalid_heading"),
        he_ident=he_ident,
        he_latitude=he_latitude,
        he_longitude=he_longitude,
        he_elevation_m=_metres(row, "he_elevation_ft", "invalid_elevation"),
        he_heading_deg=_number(row, "he_heading_degT", "invalid_heading"),
    )


def _text(row: Row, column: str) -> str | None:
    """The stripped value; ``None`` when empty or when the column is absent."""
    return (row.get(column) or "").strip() or None


def _number(row: Row, column: str, reason: str) -> float | None:
    text = _text(row, column)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise _RowError(reason, f"{column} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise _RowError(reason, f"{column} is not a finite number: {text!r}")
    return value


def _metres(row: Row, column: str, reason: str) -> float | None:
    return _to_metres(_number(row, column, reason))


def _size(row: Row, column: str) -> float | None:
    """A length or width in metres, checked in feet so the reject names the source value."""
    feet = _number(row, column, "invalid_dimension")
    if feet is not None and feet < 0:
        raise _RowError("invalid_dimension", f"{column} is negative: {row[column]!r}")
    return _to_metres(feet)


def _to_metres(feet: float | None) -> float | None:
    # 0.1 m is finer than whole feet and matches the airportsdata loader.
    return None if feet is None else round(feet * FT_TO_M, 1)


def _position(row: Row, lat_column: str, lon_column: str) -> tuple[float | None, float | None]:
    """Latitude and longitude, both or neither: half a position is no position."""
    latitude = _number(row, lat_column, "invalid_coordinates")
    longitude = _number(row, lon_column, "invalid_coordinates")
    if (latitude is None) != (longitude is None):
        raise _RowError("invalid_coordinates", f"only one of {lat_column}, {lon_column} is set")
    return latitude, longitude


def _flag(row: Row, column: str) -> bool:
    text = _text(row, column)
    if text is None or text == "0":
        return False  # OurAirports writes 0 for "no"; blank says nothing either
    if text == "1":
        return True
    raise _RowError("invalid_flag", f"{column} must be 0 or 1, got {text!r}")
