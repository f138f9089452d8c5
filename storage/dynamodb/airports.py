"""Airports in DynamoDB, with an in-memory index for what no key can answer.

| attribute      | type | from                                                            |
|----------------|------|-----------------------------------------------------------------|
| icao_code      | S    | ``icao`` (hash key)                                             |
| iata_code      | S    | ``iata``; absent without one, so ``IataCodeIndex`` stays sparse |
| country_region | S    | ``{country}#{region}``, ASCII-lowercased (``CountryRegionIndex``);  |
|                |      | absent without a country                                        |
| name, city, country, region, type, time_zone | S | as is                     |
| latitude, longitude, elevation_m | N | degrees, metres                              |

The index keys are lowercased because the filters are case-insensitive (as SQLite's NOCASE)
and an index can only match exactly. ``CountryRegionIndex`` has no range key, so a search
by country alone cannot use it: that, the text search, ``near`` and ``count`` are answered
from an ``AirportIndex``, every airport loaded by a parallel Scan and kept in memory.
Lookups by code (``by_icao``, ``by_iata``, ``many_by_icao``) and country-and-region
searches always read the table. Runways are one ops item per airport: pk ``RWY#{icao}``,
sk ``-``, ``body`` the JSON list.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from domain import Airport
from domain.runway import Runway
from storage import cursor
from storage.base import AirportFilter, NearestAirport, Page, fold_ascii, offset_page
from storage.dynamodb._client import Backoff, Dynamo, DynamoClientProtocol
from storage.dynamodb._states import number
from storage.dynamodb.tables import COUNTRY_REGION_INDEX, IATA_CODE_INDEX, DynamoNames
from storage.spatial import AirportGrid, NearestAirports

if TYPE_CHECKING:
    from storage.dynamodb._client import Item, Key

_RUNWAYS = TypeAdapter(list[Runway])
_TEXT = ("name", "city", "country", "region", "type", "time_zone")
_TYPE_RANK = {"large_airport": 0, "medium_airport": 1, "small_airport": 2, None: 3}


def country_region(country: str, region: str | None) -> str:
    return f"{fold_ascii(country)}#{fold_ascii(region or '')}"


def airport_item(airport: Airport) -> Item:
    item: Item = {
        "icao_code": {"S": airport.icao},
        "latitude": {"N": number(airport.latitude)},
        "longitude": {"N": number(airport.longitude)},
    }
    for name in _TEXT:
        value = getattr(airport, name)
        if value is not None:
            item[name] = {"S": value}
    if airport.iata:
        item["iata_code"] = {"S": airport.iata}
    if airport.elevation_m is not None:
        item["elevation_m"] = {"N": number(airport.elevation_m)}
    if airport.country:
        item["country_region"] = {"S": country_region(airport.country, airport.region)}
    return item


def airport_from_item(item: Item) -> Airport:
    def text(name: str) -> str | None:
        value = item.get(name)
        return None if value is None else value["S"]

    elevation = item.get("elevation_m")
    fields: dict[str, Any] = {name: text(name) for name in _TEXT}
    return Airport.model_construct(
        icao=item["icao_code"]["S"],
        iata=text("iata_code"),
        latitude=float(item["latitude"]["N"]),
        longitude=float(item["longitude"]["N"]),
        elevation_m=None if elevation is None else float(elevation["N"]),
        **fields,
    )


def _matches(airport: Airport, flt: AirportFilter) -> bool:
    """SQLite's filter: NOCASE equality on country and region, and a search text that is a
    code (NOCASE) or part of the name or city (LIKE: ASCII letters in either case)."""
    if flt.country and (
        airport.country is None or fold_ascii(airport.country) != fold_ascii(flt.country)
    ):
        return False
    if flt.region and (
        airport.region is None or fold_ascii(airport.region) != fold_ascii(flt.region)
    ):
        return False
    if flt.search:
        text = fold_ascii(flt.search.strip())
        codes = (fold_ascii(airport.icao), fold_ascii(airport.iata or ""))
        places = (fold_ascii(airport.name), fold_ascii(airport.city or "\0"))
        if text not in codes and not any(text in place for place in places):
            return False
    return True


class AirportIndex:
    """Every airport of one table in memory, sorted by code, with the spatial look-ups
    built on first use. Reloaded after ``invalidate`` (each put through a repository that
    shares it) or once older than ``max_age_s``, for puts made by other processes.

    Thread-safe: readers get an immutable snapshot; loads and caches are under a lock.
    """

    def __init__(self, max_age_s: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._airports: list[Airport] | None = None
        self._codes: list[str] = []
        self._loaded_at = 0.0
        self._grid: AirportGrid | None = None
        self._nearest: dict[float, NearestAirports] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._airports = None

    def airports(self, load: Callable[[], list[Airport]]) -> tuple[list[Airport], list[str]]:
        """The airports sorted by code, and their codes."""
        with self._lock:
            if self._airports is None or self._clock() - self._loaded_at > self._max_age_s:
                airports = sorted(load(), key=lambda a: a.icao)
                self._airports, self._codes = airports, [a.icao for a in airports]
                self._loaded_at = self._clock()
                self._grid, self._nearest = None, {}
            return self._airports, self._codes

    def grid(self, load: Callable[[], list[Airport]]) -> AirportGrid:
        airports, _ = self.airports(load)
        with self._lock:
            if self._grid is None:
                self._grid = AirportGrid(airports)
            return self._grid

    def nearest(self, load: Callable[[], list[Airport]], radius_km: float) -> NearestAirports:
        airports, _ = self.airports(load)
        with self._lock:
            lookup = self._nearest.get(radius_km)
            if lookup is None:
                lookup = self._nearest[radius_km] = NearestAirports(airports, radius_km)
            return lookup


class DynamoAirportRepository:
    """``AirportRepository`` on DynamoDB. Thread-safe. Pass one ``index`` to every
    repository of the same table in a process to load the airports once."""

    def __init__(
        self,
        client: DynamoClientProtocol,
        names: DynamoNames,
        *,
        index: AirportIndex | None = None,
        backoff: Backoff | None = None,
        workers: int = 8,
    ) -> None:
        self._dynamo = Dynamo(client, backoff=backoff, workers=workers)
        self._client = client
        self._names = names
        self._index = index or AirportIndex()

    def close(self) -> None:
        self._dynamo.close()

    def _load(self) -> list[Airport]:
        items = self._dynamo.scan({"TableName": self._names.airports}, segments=4)
        return [airport_from_item(i) for i in items]

    def put_airports(self, airports: Sequence[Airport]) -> int:
        unique = {a.icao: a for a in airports}  # the last wins, as the SQL upsert's does
        items = {code: airport_item(a) for code, a in unique.items()}
        # OurAirports has no time zones: an import keeps the one airportsdata gave.
        lacking = [{"icao_code": {"S": c}} for c, a in unique.items() if a.time_zone is None]
        for held in self._dynamo.get_many(self._names.airports, lacking):
            if "time_zone" in held:
                items[held["icao_code"]["S"]]["time_zone"] = held["time_zone"]
        self._dynamo.write(
            self._names.airports, [{"PutRequest": {"Item": i}} for i in items.values()]
        )
        self._index.invalidate()
        return len(airports)

    def count(self) -> int:
        return len(self._index.airports(self._load)[0])

    def by_icao(self, code: str) -> Airport | None:
        if not code:
            return None
        key: Key = {"icao_code": {"S": code.upper()}}
        out = self._dynamo.call(
            self._client.get_item, TableName=self._names.airports, Key=key, ConsistentRead=True
        )
        item = out.get("Item")
        return None if item is None else airport_from_item(item)

    def by_iata(self, code: str) -> Airport | None:
        if not code:
            return None
        found = [
            airport_from_item(i)
            for i in self._dynamo.query(
                {
                    "TableName": self._names.airports,
                    "IndexName": IATA_CODE_INDEX,
                    "KeyConditionExpression": "iata_code = :code",
                    "ExpressionAttributeValues": {":code": {"S": code.upper()}},
                }
            )
        ]
        # Several airports can share an IATA code in the data: prefer the bigger one.
        return min(found, key=lambda a: (_TYPE_RANK.get(a.type, 4), a.icao), default=None)

    def many_by_icao(self, codes: Sequence[str]) -> dict[str, Airport]:
        keys: list[Key] = [
            {"icao_code": {"S": c}} for c in dict.fromkeys(c.upper() for c in codes) if c
        ]
        found = self._dynamo.get_many(self._names.airports, keys)
        return {i["icao_code"]["S"]: airport_from_item(i) for i in found}

    def search(self, flt: AirportFilter, *, first: int, after: str | None = None) -> Page[Airport]:
        if flt.near is not None:
            return self._search_near(flt, first=first, after=after)
        if flt.country and flt.region:
            airports = sorted(
                self._by_country_region(flt.country, flt.region), key=lambda a: a.icao
            )
            codes = [a.icao for a in airports]
        else:
            airports, codes = self._index.airports(self._load)
        if flt.country or flt.region or flt.search:
            airports = [a for a in airports if _matches(a, flt)]
            codes = [a.icao for a in airports]
        start = 0
        if after is not None:
            last = cursor.decode("airports", after)
            if not isinstance(last, str):
                raise cursor.invalid(after)
            start = bisect.bisect_right(codes, last)
        page = airports[start : start + first]
        return Page(
            items=page,
            cursors=[cursor.encode("airports", a.icao) for a in page],
            total_count=len(airports),
            has_next_page=len(airports) > start + first,
        )

    def _by_country_region(self, country: str, region: str) -> list[Airport]:
        items = self._dynamo.query(
            {
                "TableName": self._names.airports,
                "IndexName": COUNTRY_REGION_INDEX,
                "KeyConditionExpression": "country_region = :cr",
                "ExpressionAttributeValues": {":cr": {"S": country_region(country, region)}},
            }
        )
        return [airport_from_item(i) for i in items]

    def _search_near(self, flt: AirportFilter, *, first: int, after: str | None) -> Page[Airport]:
        assert flt.near is not None
        grid = self._index.grid(self._load)
        found = grid.within(flt.near.latitude, flt.near.longitude, flt.radius_km)
        found = [n for n in found if _matches(n.airport, flt)]
        page = offset_page(found, kind="airports-near", first=first, after=after)
        return Page(
            items=[n.airport for n in page.items],
            cursors=page.cursors,
            total_count=page.total_count,
            has_next_page=page.has_next_page,
        )

    def nearest(
        self, points: Sequence[tuple[float, float]], radius_km: float
    ) -> list[NearestAirport | None]:
        return self._index.nearest(self._load, radius_km)(points)

    # --- runways ---------------------------------------------------------------------------

    def put_runways(self, runways: Sequence[Runway]) -> int:
        by_airport: dict[str, list[Runway]] = {}
        for runway in runways:
            by_airport.setdefault(runway.airport_icao, []).append(runway)
        items: list[Item] = [
            {
                "pk": {"S": f"RWY#{code}"},
                "sk": {"S": "-"},
                "body": {"S": _RUNWAYS.dump_json(group).decode()},
            }
            for code, group in by_airport.items()
        ]
        self._dynamo.write(self._names.ops, [{"PutRequest": {"Item": i}} for i in items])
        return len(runways)

    def runways(self, codes: Sequence[str]) -> dict[str, list[Runway]]:
        found: dict[str, list[Runway]] = {code.upper(): [] for code in codes}
        keys: list[Key] = [{"pk": {"S": f"RWY#{c}"}, "sk": {"S": "-"}} for c in found if c]
        for item in self._dynamo.get_many(self._names.ops, keys):
            found[item["pk"]["S"].removeprefix("RWY#")] = _RUNWAYS.validate_json(item["body"]["S"])
        return found
