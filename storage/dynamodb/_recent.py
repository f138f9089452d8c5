"""The latest state of each aircraft heard of lately in a bounding box, read from the
flights table's ``RegionTimeIndex`` rather than from the latest items: the answer to
``flights(bbox:)`` while the Redis live index cannot give it.

``region_time`` is ``{region}#{YYYYMMDDHH}`` of a state's key time (``flights``), its
region the one its position lies in (``domain.geo.region_of``; ``unknown`` without one).
For a filter with a box and a ``since`` this reads, in the partitions of the regions the
box meets (``domain.geo.regions_in``) and of ``unknown``, every state whose key time lies
from ``since - position_age_s`` to the newest contact plus ``clock_skew_s``: the last
contact, which ``since`` is about, can be up to ``position_age_s`` (validation's
``max_position_age_s``) after the position time that keys the index. The window is read in
slices of ``slice_s`` seconds on the worker threads, not page after page of one query, and
only the key and position of each state (parsing whole items was most of the time).
Then the newest state per aircraft is kept; those inside the box are read whole from the
table (``BatchGetItem``), filtered as ``search_latest`` filters the latest items
(``unknown`` is read so that an aircraft whose newest state has no position is left out,
as there), ordered by icao24 and paged with the same cursors.

Where the answer can differ from ``search_latest``'s: an aircraft that flew on, within the
window, into a region the box does not meet shows at its last state inside the regions
read (a state at most one report old when coverage is continuous, by a region border);
a state whose ``region`` field is not its position's is found under the region it names.

Cost: every state in the window, about ``(window + position_age_s) / cycle`` items per
aircraft in the regions read (60 for a 5-minute window and 10 s cycles), against one item
per aircraft anywhere for the latest items. Measured on DynamoDB Local with 30 cycles of
the 5,485-state snapshot stored (``python -m bench.aws_local --cycles 29``), five map
views: 1.5 s median, 3.5 s p95, against 68 and 273 ms from the latest items.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from domain import BoundingBox, FlightState
from domain.geo import regions_in
from storage import cursor
from storage.base import FlightFilter, Page, fold_ascii
from storage.dynamodb._states import number, state_from_item
from storage.dynamodb.tables import REGION_TIME_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

    from storage.dynamodb._client import Item, Key


def hour_key(region: str, epoch_s: float) -> str:
    """The ``region_time`` of a state of ``region`` keyed at ``epoch_s``."""
    hour = datetime.fromtimestamp(epoch_s // 3600 * 3600, UTC)
    return f"{region}#{hour:%Y%m%d%H}"


def queries(
    table: str, flt: FlightFilter, since: float, until: float, *, slice_s: int
) -> list[QueryInputTypeDef]:
    """Index queries for the key times ``[since, until]`` in ``flt.bbox``'s partitions,
    one per region and slice; a slice never crosses an hour, so it has one partition."""
    assert flt.bbox is not None
    assert 3600 % slice_s == 0, "slices must tile the hour"
    regions = [*regions_in(flt.bbox), "unknown"]
    bounds: list[tuple[float, float]] = []
    start = since
    while start <= until:
        boundary = (math.floor(start / slice_s) + 1) * slice_s
        bounds.append((start, min(boundary, until)))  # BETWEEN: a state on a bound may come twice
        start = boundary
    return [
        {
            "TableName": table,
            "IndexName": REGION_TIME_INDEX,
            "KeyConditionExpression": "region_time = :rt AND #ts BETWEEN :lo AND :hi",
            "ProjectionExpression": "icao24, #ts, latitude, longitude",
            "ExpressionAttributeNames": {"#ts": "timestamp"},
            "ExpressionAttributeValues": {
                ":rt": {"S": hour_key(region, lo)},
                ":lo": {"N": number(lo)},
                ":hi": {"N": number(hi)},
            },
        }
        for region in regions
        for lo, hi in bounds
    ]


def newest_per_aircraft(found: Iterable[Sequence[Item]]) -> list[Item]:
    """The item of the greatest key time of each aircraft among ``found``."""
    newest: dict[str, tuple[Decimal, Item]] = {}
    for items in found:
        for item in items:
            code, time = item["icao24"]["S"], Decimal(item["timestamp"]["N"])
            held = newest.get(code)
            if held is None or time > held[0]:
                newest[code] = (time, item)
    return [item for _, item in newest.values()]


def keys_in_box(newest: Iterable[Item], box: BoundingBox) -> list[Key]:
    """The keys of the items of ``newest`` with a position inside ``box``."""
    return [
        {"icao24": item["icao24"], "timestamp": item["timestamp"]}
        for item in newest
        if "latitude" in item
        and "longitude" in item
        and box.contains(float(item["latitude"]["N"]), float(item["longitude"]["N"]))
    ]


def matches(item: Item, flt: FlightFilter) -> bool:
    """Whether a stored state passes every filter of ``flt``, as a latest item must."""
    lat, lon = item.get("latitude"), item.get("longitude")
    if lat is None or lon is None:
        return False
    if flt.bbox is not None and not flt.bbox.contains(float(lat["N"]), float(lon["N"])):
        return False
    if flt.on_ground is not None and item["on_ground"]["BOOL"] != flt.on_ground:
        return False
    if flt.since is not None and Decimal(item["last_contact"]["N"]) < Decimal(
        number(flt.since.timestamp())
    ):
        return False
    return matches_text(item, flt)


def matches_text(item: Item, flt: FlightFilter) -> bool:
    """Whether a stored state passes ``flt``'s callsign prefix and origin country."""
    if flt.callsign_prefix:
        callsign = item.get("callsign")
        prefix = fold_ascii(flt.callsign_prefix.strip())
        if callsign is None or not fold_ascii(callsign["S"]).startswith(prefix):
            return False
    if flt.origin_country:
        country = item.get("origin_country")
        if country is None or fold_ascii(country["S"]) != fold_ascii(flt.origin_country):
            return False
    return True


def page_of(items: list[Item], *, first: int, after: str | None) -> Page[FlightState]:
    """One page of the matching ``items``, ordered by icao24; ``after`` is the cursor of
    the last aircraft of the page before."""
    items.sort(key=lambda i: i["icao24"]["S"])
    start = 0
    if after is not None:
        last = cursor.decode("flights", after)
        if not isinstance(last, str):
            raise cursor.invalid(after)
        start = bisect.bisect_right([i["icao24"]["S"] for i in items], last)
    page = [state_from_item(i) for i in items[start : start + first]]
    return Page(
        items=page,
        cursors=[cursor.encode("flights", s.icao24) for s in page],
        total_count=len(items),
        has_next_page=len(items) > start + first,
    )
