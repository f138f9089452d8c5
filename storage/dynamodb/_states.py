"""A flight state as a DynamoDB item and back, for the flights table and the latest items.

Numbers go over the wire as the shortest string that reads back as the same float
(``Decimal(str(x))``), so a float survives the round trip bit for bit; times are epoch
seconds the same way. ``None`` fields are left out of the item. DynamoDB numbers hold 38
digits, magnitudes from 1e-130 to 1e126: a float outside (1e308 or NaN in an unbounded
field, 1e-200 anywhere) fails the write with ``DynamoUnavailable`` (``ValidationException``).

| attribute            | type | from                                                      |
|----------------------|------|-----------------------------------------------------------|
| icao24               | S    | ``icao24`` (table hash key)                               |
| timestamp            | N    | ``time``: position time, else last contact (range key)    |
| non_icao, on_ground, spi | BOOL | the flags                                             |
| callsign, origin_country, squawk, grid_cell, nearest_airport_icao | S | as is          |
| time_position, last_contact | N | epoch seconds                                       |
| latitude ... nearest_airport_km | N | the floats, SI units as named               |
| position_source, category | N | the integers                                          |
| source, phase        | S    | enum values                                               |
| region               | S    | ``region``, else ``domain.geo.region_of`` the position    |
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain import FlightPhase, FlightState
from domain.flight import PositionSource, Source
from domain.geo import region_of

if TYPE_CHECKING:
    from storage.dynamodb._client import Item

_STRINGS = ("callsign", "origin_country", "squawk", "grid_cell", "nearest_airport_icao")
_FLOATS = (
    "latitude",
    "longitude",
    "baro_altitude_m",
    "geo_altitude_m",
    "velocity_mps",
    "true_track_deg",
    "vertical_rate_mps",
    "nearest_airport_km",
)
_FLAGS = ("non_icao", "on_ground", "spi")
_POSITION_SOURCES = {p.value: p for p in PositionSource}
_SOURCES = {s.value: s for s in Source}
_PHASES = {p.value: p for p in FlightPhase}


def number(value: float | int) -> str:
    """``value`` as a DynamoDB number: the shortest decimal that reads back as ``value``."""
    return str(Decimal(str(value)))


def number_value(value: float | int) -> dict[str, str]:
    """``value`` as a DynamoDB number attribute value."""
    return {"N": number(value)}


def key_time(state: FlightState) -> str:
    return number(state.time.timestamp())


def region(state: FlightState) -> str:
    return state.region or region_of(state.latitude, state.longitude)


def state_attributes(state: FlightState) -> Item:
    """Every field of ``state`` that is set, plus ``icao24``, ``timestamp`` and ``region``."""
    item: Item = {
        "icao24": {"S": state.icao24},
        "timestamp": {"N": key_time(state)},
        "last_contact": {"N": number(state.last_contact.timestamp())},
        "source": {"S": state.source.value},
        "region": {"S": region(state)},
    }
    for name in _FLAGS:
        item[name] = {"BOOL": bool(getattr(state, name))}
    for name in _STRINGS:
        text = getattr(state, name)
        if text is not None:
            item[name] = {"S": text}
    for name in _FLOATS:
        value = getattr(state, name)
        if value is not None:
            item[name] = {"N": number(value)}
    if state.time_position is not None:
        item["time_position"] = {"N": number(state.time_position.timestamp())}
    if state.position_source is not None:
        item["position_source"] = {"N": str(int(state.position_source))}
    if state.category is not None:
        item["category"] = {"N": str(state.category)}
    if state.phase is not None:
        item["phase"] = {"S": state.phase.value}
    return item


def _float(item: Item, name: str) -> float | None:
    value = item.get(name)
    return None if value is None else float(value["N"])


def _text(item: Item, name: str) -> str | None:
    value = item.get(name)
    return None if value is None else value["S"]


def state_from_item(item: Item) -> FlightState:
    fromts = datetime.fromtimestamp
    fields: dict[str, Any] = {
        "icao24": item["icao24"]["S"],
        "last_contact": fromts(float(item["last_contact"]["N"]), UTC),
        "source": _SOURCES[item["source"]["S"]],
        "region": item["region"]["S"],
        "time_position": None,
        "position_source": None,
        "category": None,
        "phase": None,
    }
    for name in _FLAGS:
        fields[name] = item[name]["BOOL"]
    for name in _STRINGS:
        fields[name] = _text(item, name)
    for name in _FLOATS:
        fields[name] = _float(item, name)
    if "time_position" in item:
        fields["time_position"] = fromts(float(item["time_position"]["N"]), UTC)
    if "position_source" in item:
        fields["position_source"] = _POSITION_SOURCES.get(int(item["position_source"]["N"]))
    if "category" in item:
        fields["category"] = int(item["category"]["N"])
    if "phase" in item:
        fields["phase"] = _PHASES[item["phase"]["S"]]
    return FlightState.trusted(fields)
