"""Flight states in DynamoDB: the history in the flights table, each aircraft's newest
state in the ops table.

| item    | table   | key                        | attributes (see ``_states``)               |
|---------|---------|----------------------------|--------------------------------------------|
| history | flights | icao24, timestamp          | the state; region_time; expires_at (TTL)   |
| latest  | ops     | pk LATEST#h, sk icao24     | the state; expires_at (TTL)                |
| newest  | ops     | pk META, sk NEWEST_CONTACT | last_contact: the newest of the latest     |

``timestamp`` is the state's key time and ``region_time`` is ``{region}#{YYYYMMDDHH}`` of it
(UTC), for ``RegionTimeIndex``. ``expires_at`` is ``max(key time, time written)`` plus the
retention (default 7 days): a replayed old recording is kept as long as live data.

``put_states`` puts each aircraft's newest state as its latest item first (``_latest``:
conditional puts, 100 to a transaction, so that the latest only moves forward whatever
order concurrent writers run in), then ``BatchWriteItem``s the new history items, 25 to a
call. Telling new states from stored ones costs no read in the usual case: a latest put
that succeeds proves its state new to the history (the latest is always written first),
and a state this process stored before is known; only the rest (a state older than the
latest, several states of one aircraft in a batch, a restart) are looked up with a
strongly consistent ``BatchGetItem`` of their keys. What it gives up, as before: two
writers storing the same new state at the same moment may both count it as stored.

Reads: ``search_latest`` reads every latest item (16 partitions at once, the numeric
filters applied by DynamoDB, the text ones here) and sorts them by icao24: its cost grows
with the number of aircraft. ``search_recent`` answers the same for a box and a recent
``since`` from ``RegionTimeIndex`` instead (``_recent``): the fallback of the Redis live
index, whose cost grows with the states in the window in the box's regions. ``prune``
deletes what SQLite's would (one query per aircraft for its old keys); the TTL removes
history even when nothing prunes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain import FlightState
from storage.base import FlightFilter, Page, PutResult
from storage.dynamodb._client import Backoff, ConditionFailed, Dynamo, DynamoClientProtocol
from storage.dynamodb._latest import LatestItems
from storage.dynamodb._recent import (
    hour_key,
    keys_in_box,
    matches,
    matches_text,
    newest_per_aircraft,
    page_of,
    queries,
)
from storage.dynamodb._states import key_time, number, region, state_attributes, state_from_item
from storage.dynamodb.tables import REGION_TIME_INDEX, TTL_ATTRIBUTE, DynamoNames

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, WriteRequestTypeDef

    from storage.dynamodb._client import Item, Key

SHARDS = "0123456789abcdef"
_META: Key = {"pk": {"S": "META"}, "sk": {"S": "NEWEST_CONTACT"}}
_TS = {"#ts": "timestamp"}
RECENT_SLICE_S = 60  # seconds of the index read by one query of ``search_recent``
RECENT_SPAN_MAX_S = 3600  # the most of the index it reads


def latest_key(icao24: str) -> Key:
    return {"pk": {"S": f"LATEST#{icao24[-1]}"}, "sk": {"S": icao24}}


class DynamoFlightRepository:
    """``FlightRepository`` on DynamoDB. Thread-safe."""

    def __init__(
        self,
        client: DynamoClientProtocol,
        names: DynamoNames,
        *,
        retention: timedelta = timedelta(days=7),
        backoff: Backoff | None = None,
        workers: int = 8,
        clock: Callable[[], float] = time.time,
        recent_window: timedelta = timedelta(minutes=7),
        position_age: timedelta = timedelta(minutes=5),
        clock_skew: timedelta = timedelta(minutes=1),
    ) -> None:
        self._dynamo = Dynamo(client, backoff=backoff, workers=workers)
        self._client = client
        self._names = names
        self._retention_s = retention.total_seconds()
        self._clock = clock
        self._recent_window_s = recent_window.total_seconds()
        self._position_age_s = position_age.total_seconds()
        self._clock_skew_s = clock_skew.total_seconds()
        self._latest = LatestItems(self._dynamo, names.ops)

    def close(self) -> None:
        self._dynamo.close()

    # --- writes ----------------------------------------------------------------------------

    def put_states(self, states: Sequence[FlightState]) -> PutResult:
        if not states:
            return PutResult(stored=0, duplicates=0)
        now = float(self._clock())
        # The first state of a key wins, as SQLite's INSERT OR IGNORE keeps it; the latest
        # takes the last of the newest, as SQLite's upsert does.
        unique: dict[tuple[str, Decimal], FlightState] = {}
        newest: dict[str, FlightState] = {}
        for state in states:
            unique.setdefault((state.icao24, Decimal(key_time(state))), state)
            held = newest.get(state.icao24)
            if held is None or state.time >= held.time:
                newest[state.icao24] = state
        # Latest first: should the history write fail, a retry still finds these states new.
        written = self._latest.put(self._latest_item(s, now) for s in newest.values())
        if (contact := written.newest_contact) is not None:
            self._raise_newest_contact(contact)
        known, proved = written.in_history, written.new
        unsure = [k for k in unique if k[1] not in (known.get(k[0]), proved.get(k[0]))]
        stored = self._stored_keys(unsure) | {k for k in unique if known.get(k[0]) == k[1]}
        new = [state for key, state in unique.items() if key not in stored]
        writes: list[WriteRequestTypeDef] = [
            {"PutRequest": {"Item": self._history_item(s, now)}} for s in new
        ]
        self._dynamo.write(self._names.flights, writes)
        self._latest.remember(written)
        return PutResult(stored=len(new), duplicates=len(states) - len(new), new=new)

    def _expires_at(self, state: FlightState, now: float) -> dict[str, str]:
        return {"N": str(int(max(state.time.timestamp(), now) + self._retention_s))}

    def _history_item(self, state: FlightState, now: float) -> Item:
        item = state_attributes(state)
        item["region_time"] = {"S": hour_key(region(state), state.time.timestamp())}
        item[TTL_ATTRIBUTE] = self._expires_at(state, now)
        return item

    def _latest_item(self, state: FlightState, now: float) -> Item:
        item: Item = {**latest_key(state.icao24), **state_attributes(state)}
        item[TTL_ATTRIBUTE] = self._expires_at(state, now)
        return item

    def _stored_keys(self, keys: list[tuple[str, Decimal]]) -> set[tuple[str, Decimal]]:
        if not keys:
            return set()
        wanted: list[Key] = [{"icao24": {"S": a}, "timestamp": {"N": str(t)}} for a, t in keys]
        found = self._dynamo.get_many(
            self._names.flights, wanted, projection="icao24, #ts", names=_TS
        )
        return {(i["icao24"]["S"], Decimal(i["timestamp"]["N"])) for i in found}

    def _raise_newest_contact(self, last_contact: Decimal) -> None:
        with contextlib.suppress(ConditionFailed):  # already as new or newer
            self._dynamo.call(
                self._client.update_item,
                TableName=self._names.ops,
                Key=_META,
                UpdateExpression="SET last_contact = :t",
                ConditionExpression="attribute_not_exists(last_contact) OR last_contact < :t",
                ExpressionAttributeValues={":t": {"N": str(last_contact)}},
            )

    # --- latest ----------------------------------------------------------------------------

    def latest(self, icao24: str) -> FlightState | None:
        if not icao24:
            return None
        out = self._dynamo.call(
            self._client.get_item,
            TableName=self._names.ops,
            Key=latest_key(icao24),
            ConsistentRead=True,
        )
        item = out.get("Item")
        return None if item is None else state_from_item(item)

    def latest_many(self, icao24s: Sequence[str]) -> dict[str, FlightState]:
        keys = [latest_key(code) for code in dict.fromkeys(icao24s) if code]
        found = self._dynamo.get_many(self._names.ops, keys)
        return {item["sk"]["S"]: state_from_item(item) for item in found}

    def search_latest(
        self, flt: FlightFilter, *, first: int, after: str | None = None
    ) -> Page[FlightState]:
        items = [i for i in self._read_latest(flt) if matches_text(i, flt)]
        return page_of(items, first=first, after=after)

    def all_latest(self, flt: FlightFilter) -> list[FlightState]:
        items = [i for i in self._read_latest(flt) if matches_text(i, flt)]
        items.sort(key=lambda i: i["icao24"]["S"])
        return [state_from_item(i) for i in items]

    def search_recent(
        self, flt: FlightFilter, *, first: int, after: str | None = None
    ) -> Page[FlightState] | None:
        """``search_latest`` answered from ``RegionTimeIndex`` (see ``_recent``), for a
        filter with a box and a ``since`` within ``recent_window`` of the newest contact;
        ``None`` for any other filter, and where the index would be read for more than
        ``RECENT_SPAN_MAX_S``: there the latest items cost less."""
        if flt.bbox is None or flt.since is None:
            return None
        newest = self.newest_contact()
        if newest is None:
            return page_of([], first=first, after=after)
        since, until = flt.since.timestamp(), newest.timestamp() + self._clock_skew_s
        start = since - self._position_age_s
        if newest.timestamp() - since > self._recent_window_s or until - start > RECENT_SPAN_MAX_S:
            return None
        requests = queries(self._names.flights, flt, start, until, slice_s=RECENT_SLICE_S)
        keys = keys_in_box(newest_per_aircraft(self._dynamo.query_all(requests)), flt.bbox)
        items = [i for i in self._dynamo.get_many(self._names.flights, keys) if matches(i, flt)]
        return page_of(items, first=first, after=after)

    def _read_latest(self, flt: FlightFilter) -> list[Item]:
        """Every latest item passing ``flt``'s position, ground and time filters."""
        names = {"#lat": "latitude", "#lon": "longitude"}
        values: dict[str, Any] = {}
        where = ["attribute_exists(#lat)", "attribute_exists(#lon)"]
        if flt.bbox is not None:
            box = flt.bbox
            where.append("#lat BETWEEN :south AND :north")
            lon = "(#lon >= :west OR #lon <= :east)" if box.crosses_antimeridian else None
            where.append(lon or "#lon BETWEEN :west AND :east")
            for name in ("south", "north", "west", "east"):
                values[f":{name}"] = {"N": number(getattr(box, name))}
        if flt.on_ground is not None:
            names["#ground"] = "on_ground"
            where.append("#ground = :ground")
            values[":ground"] = {"BOOL": flt.on_ground}
        if flt.since is not None:
            names["#contact"] = "last_contact"
            where.append("#contact >= :since")
            values[":since"] = {"N": number(flt.since.timestamp())}
        return self._query_latest(
            {"FilterExpression": " AND ".join(where), "ExpressionAttributeNames": names}, values
        )

    def _query_latest(self, extra: dict[str, Any], values: dict[str, Any]) -> list[Item]:
        requests: list[QueryInputTypeDef] = [
            {
                "TableName": self._names.ops,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {**values, ":pk": {"S": f"LATEST#{shard}"}},
                "ConsistentRead": True,
                **extra,  # type: ignore[typeddict-item]
            }
            for shard in SHARDS
        ]
        return [item for items in self._dynamo.query_all(requests) for item in items]

    def newest_contact(self) -> datetime | None:
        out = self._dynamo.call(
            self._client.get_item, TableName=self._names.ops, Key=_META, ConsistentRead=True
        )
        item = out.get("Item")
        if item is None:
            return None
        return datetime.fromtimestamp(float(item["last_contact"]["N"]), UTC)

    # --- history ---------------------------------------------------------------------------

    def tracks(
        self, icao24s: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[FlightState]]:
        result: dict[str, list[FlightState]] = {code: [] for code in icao24s}
        codes = [code for code in result if code]
        if not codes or start > end:  # DynamoDB refuses BETWEEN with its bounds reversed
            return result
        bounds = {":lo": {"N": number(start.timestamp())}, ":hi": {"N": number(end.timestamp())}}
        requests: list[QueryInputTypeDef] = [
            {
                "TableName": self._names.flights,
                "KeyConditionExpression": "icao24 = :a AND #ts BETWEEN :lo AND :hi",
                "ExpressionAttributeNames": _TS,
                "ExpressionAttributeValues": {":a": {"S": code}, **bounds},
                "ConsistentRead": True,
            }
            for code in codes
        ]
        for code, items in zip(codes, self._dynamo.query_all(requests), strict=True):
            result[code] = [state_from_item(i) for i in items]
        return result

    def by_region_hour(self, region: str, hour: datetime) -> list[FlightState]:
        request: QueryInputTypeDef = {
            "TableName": self._names.flights,
            "IndexName": REGION_TIME_INDEX,
            "KeyConditionExpression": "region_time = :rt",
            "ExpressionAttributeValues": {":rt": {"S": hour_key(region, hour.timestamp())}},
        }
        items = list(self._dynamo.query(request))
        items.sort(key=lambda i: (i["icao24"]["S"], Decimal(i["timestamp"]["N"])))
        return [state_from_item(i) for i in items]

    def prune(self, before: datetime) -> int:
        """Delete states older than ``before`` and latest states last heard of before it.

        One query per aircraft that has a latest state, for the keys of its old states;
        aircraft whose latest state is gone are left to the TTL.
        """
        cutoff = number(before.timestamp())
        latest = self._query_latest(
            {"ProjectionExpression": "sk, last_contact"}, {}
        )  # every aircraft, no filter
        removed = sum(self._dynamo.map(lambda i: self._prune_history(i["sk"]["S"], cutoff), latest))
        stale = [i["sk"]["S"] for i in latest if Decimal(i["last_contact"]["N"]) < Decimal(cutoff)]
        self._dynamo.map(lambda code: self._drop_latest(code, cutoff), stale)
        self._drop_newest_contact(cutoff)
        self._latest.forget()  # what it remembered may be deleted now
        return removed

    def _prune_history(self, icao24: str, cutoff: str) -> int:
        request: QueryInputTypeDef = {
            "TableName": self._names.flights,
            "KeyConditionExpression": "icao24 = :a AND #ts < :cut",
            "ProjectionExpression": "icao24, #ts",
            "ExpressionAttributeNames": _TS,
            "ExpressionAttributeValues": {":a": {"S": icao24}, ":cut": {"N": cutoff}},
            "ConsistentRead": True,
        }
        keys = list(self._dynamo.query(request))
        self._dynamo.write(self._names.flights, [{"DeleteRequest": {"Key": k}} for k in keys])
        return len(keys)

    def _drop_latest(self, icao24: str, cutoff: str) -> None:
        self._delete_if_older(latest_key(icao24), cutoff)

    def _drop_newest_contact(self, cutoff: str) -> None:
        self._delete_if_older(_META, cutoff)

    def _delete_if_older(self, key: Key, cutoff: str) -> None:
        with contextlib.suppress(ConditionFailed):  # absent, or heard of again since
            self._dynamo.call(
                self._client.delete_item,
                TableName=self._names.ops,
                Key=key,
                ConditionExpression="last_contact < :cut",
                ExpressionAttributeValues={":cut": {"N": cutoff}},
            )
