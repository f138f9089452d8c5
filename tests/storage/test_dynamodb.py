"""What only the DynamoDB backend has: its tables, numbers, batches, retries and cursors.

The repository contracts run on DynamoDB Local through the ``backend`` fixture; these tests
check the rest against the same engine, and use botocore's ``Stubber`` on a real client
for the faults no local engine produces (throttling, unprocessed batch items).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from botocore.stub import Stubber

from devtools.dynamodb_local import DynamoDBLocal, make_client
from domain import BoundingBox, FlightState, InvalidArgument
from storage import cursor
from storage.base import DeadLetter, FlightFilter, Page, StoreUnavailable
from storage.dynamodb import (
    Backoff,
    DynamoDeadLetterRepository,
    DynamoFlightRepository,
    DynamoNames,
    DynamoUnavailable,
    create_tables,
)
from testkit import T0, make_state

ATTRIBUTE = {"AttributeType": "S"}
MINUTE = timedelta(minutes=1)


@pytest.fixture
def names(dynamodb_local: DynamoDBLocal, tmp_path: Path) -> DynamoNames:
    return dynamodb_local.create(dynamodb_local.names(tmp_path))


@pytest.fixture
def flights(dynamodb_local: DynamoDBLocal, names: DynamoNames) -> Iterator[DynamoFlightRepository]:
    repo = DynamoFlightRepository(dynamodb_local.client, names)
    yield repo
    repo.close()


class Recorder:
    """A real client whose calls are counted, with the size of each batch."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            batch = kwargs.get("RequestItems", {})
            size = sum(len(v) if isinstance(v, list) else len(v["Keys"]) for v in batch.values())
            self.calls.append((name, size or len(kwargs.get("TransactItems", []))))
            return method(**kwargs)

        return call


def stubbed() -> tuple[Any, Stubber]:
    """A real client that never reaches the network, and its stubber."""
    client = boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="stub",
        aws_secret_access_key="stub",
    )
    return client, Stubber(client)


def stubbed_flights(client: Any, sleeps: list[float] | None = None) -> DynamoFlightRepository:
    """Flights on the stubbed tables ``x-*``, one thread, a fixed clock, no real waits."""
    backoff = no_wait([] if sleeps is None else sleeps)
    names = DynamoNames.prefixed("x")
    return DynamoFlightRepository(client, names, workers=1, backoff=backoff, clock=lambda: 1e9)


def no_wait(sleeps: list[float]) -> Backoff:
    return Backoff(attempts=4, base_s=0.05, cap_s=0.3, sleep=sleeps.append)


# --- tables -------------------------------------------------------------------------------


def test_tables_are_the_architecture_s(
    dynamodb_local: DynamoDBLocal, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    names = dynamodb_local.names(tmp_path / "tables")
    client = dynamodb_local.client
    with caplog.at_level(logging.INFO, logger="storage.dynamodb.tables"):
        assert create_tables(client, names) == list(names)
    flights = client.describe_table(TableName=names.flights)["Table"]
    assert sorted(
        (a["AttributeName"], a["AttributeType"]) for a in flights["AttributeDefinitions"]
    ) == [("icao24", "S"), ("region_time", "S"), ("timestamp", "N")]
    assert flights["KeySchema"] == [
        {"AttributeName": "icao24", "KeyType": "HASH"},
        {"AttributeName": "timestamp", "KeyType": "RANGE"},
    ]
    [index] = flights["GlobalSecondaryIndexes"]
    assert (index["IndexName"], index["KeySchema"], index["Projection"]) == (
        "RegionTimeIndex",
        [
            {"AttributeName": "region_time", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        {"ProjectionType": "ALL"},
    )
    assert flights["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert flights["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    airports = client.describe_table(TableName=names.airports)["Table"]
    assert sorted(
        (a["AttributeName"], a["AttributeType"]) for a in airports["AttributeDefinitions"]
    ) == [("country_region", "S"), ("iata_code", "S"), ("icao_code", "S")]
    assert airports["KeySchema"] == [{"AttributeName": "icao_code", "KeyType": "HASH"}]
    assert sorted(
        (i["IndexName"], str(i["KeySchema"])) for i in airports["GlobalSecondaryIndexes"]
    ) == [
        ("CountryRegionIndex", str([{"AttributeName": "country_region", "KeyType": "HASH"}])),
        ("IataCodeIndex", str([{"AttributeName": "iata_code", "KeyType": "HASH"}])),
    ]
    assert airports["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ops = client.describe_table(TableName=names.ops)["Table"]
    assert ops["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    for table in (names.flights, names.ops):
        ttl = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    try:
        backups = client.describe_continuous_backups(TableName=names.flights)
    except ClientError:  # DynamoDB Local has no backups: the skip was said in the log
        assert "point-in-time recovery not supported" in caplog.text
    else:
        pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"
    assert create_tables(client, names) == []  # idempotent


# --- numbers ------------------------------------------------------------------------------


AWKWARD = {
    "latitude": 0.1 + 0.2,
    "longitude": -179.99999999999997,
    "baro_altitude_m": 1e-7,
    "geo_altitude_m": 10_058.399999999998,
    "velocity_mps": 123.45678901234567,
    "true_track_deg": 359.99999999999994,
    "vertical_rate_mps": -0.0000001234,
    "nearest_airport_km": 20_015.086796020572,
}


def test_floats_and_times_round_trip_exactly(
    flights: DynamoFlightRepository, dynamodb_local: DynamoDBLocal, names: DynamoNames
) -> None:
    when = T0 + timedelta(microseconds=123_457)
    state = make_state("abc123", when, last_contact=when + timedelta(seconds=1.5), **AWKWARD)
    flights.put_states([state])
    for stored in (
        flights.latest("abc123"),
        flights.tracks(["abc123"], when, when)["abc123"][0],
    ):
        assert stored is not None
        for name, value in AWKWARD.items():
            assert getattr(stored, name) == value, name  # bit for bit, not approximately
        assert (stored.time_position, stored.last_contact) == (
            state.time_position,
            state.last_contact,
        )
    key = {"icao24": {"S": "abc123"}, "timestamp": {"N": str(Decimal(str(when.timestamp())))}}
    item = dynamodb_local.client.get_item(TableName=names.flights, Key=key)["Item"]
    assert Decimal(item["latitude"]["N"]) == Decimal(str(0.1 + 0.2))
    assert item["region_time"] == {"S": "oceans#2024060112"}  # 0.3 N, 180 W: no continent
    assert "squawk" not in item  # None is left out, not stored as NULL


def test_a_number_beyond_dynamodb_s_range_is_store_unavailable(
    flights: DynamoFlightRepository,
) -> None:
    # DynamoDB numbers stop at 1e126: no valid state comes near, but a float can.
    with pytest.raises(DynamoUnavailable, match="Number overflow") as exc:
        flights.put_states([make_state(nearest_airport_km=1e308)])
    assert exc.value.code == "ValidationException"


def test_history_expires_a_retention_after_the_later_of_its_time_and_now(
    dynamodb_local: DynamoDBLocal, names: DynamoNames
) -> None:
    now = T0.timestamp() + 3600.0
    repo = DynamoFlightRepository(
        dynamodb_local.client, names, retention=timedelta(days=2), clock=lambda: now
    )
    repo.put_states([make_state("abc123", T0), make_state("abc123", T0 + timedelta(hours=2))])
    items = dynamodb_local.client.query(
        TableName=names.flights,
        KeyConditionExpression="icao24 = :a",
        ExpressionAttributeValues={":a": {"S": "abc123"}},
    )["Items"]
    assert [int(i["expires_at"]["N"]) for i in items] == [
        int(now + 2 * 86_400),  # a replayed old state is kept as long as a live one
        int(T0.timestamp() + 7_200 + 2 * 86_400),
    ]
    assert repo.prune(T0 - timedelta(days=1)) == 0
    repo.close()


class Racing:
    """A real client that lets ``before_put`` run just before its first latest-item write
    (a ``transact_write_items``)."""

    def __init__(self, client: Any, before_put: Callable[[], object]) -> None:
        self._client = client
        self._before_put: Callable[[], object] | None = before_put

    def __getattr__(self, name: str) -> Any:
        if name == "transact_write_items" and self._before_put is not None:
            run, self._before_put = self._before_put, None
            run()
        return getattr(self._client, name)


def test_latest_only_moves_forward_when_writers_race(
    dynamodb_local: DynamoDBLocal, names: DynamoNames, flights: DynamoFlightRepository
) -> None:
    newer = make_state("abc123", T0 + timedelta(minutes=1), latitude=11.0)
    older = make_state("abc123", T0, latitude=10.0)
    # Just before the slow writer puts its latest item, the fast one stores a newer one.
    racing = Racing(dynamodb_local.client, lambda: flights.put_states([newer]))
    slow = DynamoFlightRepository(racing, names, workers=1)  # type: ignore[arg-type]

    assert slow.put_states([older]).stored == 1

    latest = flights.latest("abc123")
    assert latest is not None
    assert (latest.time, latest.latitude) == (newer.time, 11.0)
    assert flights.newest_contact() == newer.last_contact
    assert [s.time for s in flights.tracks(["abc123"], T0, newer.time)["abc123"]] == [
        older.time,
        newer.time,
    ]
    slow.close()


# --- batches ------------------------------------------------------------------------------


def test_batches_are_cut_at_dynamodb_s_limits(
    dynamodb_local: DynamoDBLocal, names: DynamoNames
) -> None:
    recorder = Recorder(dynamodb_local.client)
    repo = DynamoFlightRepository(recorder, names, workers=1)  # type: ignore[arg-type]
    states = [make_state(f"{i:06x}", T0 + timedelta(seconds=i % 7)) for i in range(230)]

    result = repo.put_states(states)

    assert (result.stored, result.duplicates) == (230, 0)
    assert sizes(recorder, "transact_write_items") == [100, 100, 30]  # the latest items
    assert sizes(recorder, "batch_write_item") == [25] * 9 + [5]  # the history
    assert sizes(recorder, "batch_get_item") == []  # a latest item put proves its state new
    assert len(repo.latest_many([s.icao24 for s in states])) == 230
    recorder.calls.clear()
    assert repo.put_states(states).duplicates == 230
    assert recorder.calls == []  # this process stored these very states: nothing to ask
    restarted = DynamoFlightRepository(recorder, names, workers=1)  # type: ignore[arg-type]
    assert restarted.put_states(states).duplicates == 230
    # The latest items hold these states already; the history is read to tell.
    assert sizes(recorder, "transact_write_items") == [100, 100, 30]
    assert sizes(recorder, "batch_get_item") == [100, 100, 30]
    assert sizes(recorder, "batch_write_item") == []
    restarted.close()
    repo.close()


def sizes(recorder: Recorder, call: str) -> list[int]:
    return [n for name, n in recorder.calls if name == call]


def test_a_later_contact_at_the_same_position_time_replaces_the_latest(
    dynamodb_local: DynamoDBLocal, names: DynamoNames, flights: DynamoFlightRepository
) -> None:
    seen = make_state("abc123", T0)
    heard_again = seen.model_copy(update={"last_contact": T0 + timedelta(seconds=5)})
    assert flights.put_states([seen]).stored == 1
    # Same key: a duplicate in the history, yet the latest takes it, as SQLite's upsert does.
    assert flights.put_states([heard_again]).duplicates == 1
    assert flights.latest("abc123").last_contact == heard_again.last_contact  # type: ignore[union-attr]
    restarted = DynamoFlightRepository(dynamodb_local.client, names, workers=1)
    later = seen.model_copy(update={"last_contact": T0 + timedelta(seconds=9)})
    assert restarted.put_states([later]).duplicates == 1
    assert flights.latest("abc123").last_contact == later.last_contact  # type: ignore[union-attr]
    assert flights.newest_contact() == later.last_contact
    restarted.close()


def test_states_older_than_the_latest_skip_the_latest_write(
    dynamodb_local: DynamoDBLocal, names: DynamoNames
) -> None:
    recorder = Recorder(dynamodb_local.client)
    repo = DynamoFlightRepository(recorder, names, workers=1)  # type: ignore[arg-type]
    repo.put_states([make_state("abc123", T0 + MINUTE, latitude=11.0)])
    recorder.calls.clear()
    assert repo.put_states([make_state("abc123", T0, latitude=10.0)]).stored == 1
    assert [name for name, _ in recorder.calls] == ["batch_get_item", "batch_write_item"]
    assert repo.latest("abc123").latitude == 11.0  # type: ignore[union-attr]
    repo.close()


def test_a_state_pruned_then_put_again_is_stored_again(flights: DynamoFlightRepository) -> None:
    state = make_state("abc123", T0)
    flights.put_states([state])
    assert flights.prune(T0 + MINUTE) == 1
    # What this process remembers storing is gone: it must not call the state a duplicate.
    assert flights.put_states([state]).stored == 1
    assert flights.latest("abc123") is not None


def cancelled(*reasons: dict[str, Any]) -> dict[str, Any]:
    return {
        "service_error_code": "TransactionCanceledException",
        "modeled_fields": {"CancellationReasons": list(reasons)},
    }


def test_conflicting_transactions_are_retried_with_backoff() -> None:
    client, stubber = stubbed()
    sleeps: list[float] = []
    repo = stubbed_flights(client, sleeps)
    states = [make_state("abc123"), make_state("def456")]
    conflict = cancelled({"Code": "None"}, {"Code": "TransactionConflict"})
    stubber.add_client_error("transact_write_items", **conflict)
    stubber.add_response("transact_write_items", {})
    stubber.add_response("update_item", {})
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}})
    with stubber:
        assert repo.put_states(states).stored == 2
    stubber.assert_no_pending_responses()
    assert len(sleeps) == 1


def test_a_failed_condition_resends_the_rest_of_its_transaction_at_once() -> None:
    client, stubber = stubbed()
    sleeps: list[float] = []
    repo = stubbed_flights(client, sleeps)
    older, new = make_state("abc123"), make_state("def456")
    newer = repo._latest_item(make_state("abc123", T0 + MINUTE), 1e9)
    failed = cancelled({"Code": "ConditionalCheckFailed", "Item": newer}, {"Code": "None"})
    stubber.add_client_error("transact_write_items", **failed)
    stubber.add_response("transact_write_items", {})  # the other put alone
    stubber.add_response("update_item", {})
    stubber.add_response("batch_get_item", {"Responses": {"x-flights": []}})  # older's key
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}})
    with stubber:
        assert repo.put_states([older, new]).stored == 2
    stubber.assert_no_pending_responses()
    assert sleeps == []


def test_transactions_that_stay_in_conflict_are_store_unavailable() -> None:
    client, stubber = stubbed()
    repo = stubbed_flights(client)
    for _ in range(4):
        stubber.add_client_error(
            "transact_write_items", **cancelled({"Code": "TransactionConflict"})
        )
    with stubber, pytest.raises(StoreUnavailable, match="still cancelled after 4 attempts"):
        repo.put_states([make_state()])


def test_unprocessed_items_are_retried_with_backoff() -> None:
    client, stubber = stubbed()
    sleeps: list[float] = []
    repo = stubbed_flights(client, sleeps)
    state = make_state("abc123")
    stubber.add_response("transact_write_items", {})  # the latest item: new, so no read
    stubber.add_response("update_item", {})
    put = repo._history_item(state, 1e9)  # what the write will send
    request = {"PutRequest": {"Item": put}}
    for _ in range(2):  # DynamoDB hands the write back twice, then takes it
        stubber.add_response(
            "batch_write_item",
            {"UnprocessedItems": {"x-flights": [request]}},
            {"RequestItems": {"x-flights": [request]}},
        )
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}})
    with stubber:
        assert repo.put_states([state]).stored == 1
    stubber.assert_no_pending_responses()
    assert len(sleeps) == 2
    assert sleeps[0] <= 0.05
    assert sleeps[1] <= 0.1


def test_unprocessed_items_that_never_clear_are_store_unavailable() -> None:
    client, stubber = stubbed()
    repo = stubbed_flights(client)
    state = make_state("abc123")
    stubber.add_response("transact_write_items", {})  # the latest item: new, so no read
    stubber.add_response("update_item", {})
    request = {"PutRequest": {"Item": repo._history_item(state, 1e9)}}
    for _ in range(4):
        stubber.add_response("batch_write_item", {"UnprocessedItems": {"x-flights": [request]}})
    with stubber, pytest.raises(StoreUnavailable, match="1 writes to x-flights unprocessed"):
        repo.put_states([state])


def test_unprocessed_keys_are_read_again() -> None:
    client, stubber = stubbed()
    repo = stubbed_flights(client)
    keys = [{"pk": {"S": f"LATEST#{c[-1]}"}, "sk": {"S": c}} for c in ("abc123", "def456")]
    stubber.add_response(
        "batch_get_item",
        {"Responses": {"x-ops": []}, "UnprocessedKeys": {"x-ops": {"Keys": keys[1:]}}},
    )
    stubber.add_response(
        "batch_get_item",
        {"Responses": {"x-ops": []}},
        {"RequestItems": {"x-ops": {"Keys": keys[1:], "ConsistentRead": True}}},
    )
    with stubber:
        assert repo.latest_many(["abc123", "def456"]) == {}
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_throttled_calls_are_retried(code: str) -> None:
    client, stubber = stubbed()
    sleeps: list[float] = []
    repo = stubbed_flights(client, sleeps)
    stubber.add_client_error("get_item", service_error_code=code, http_status_code=400)
    stubber.add_client_error("get_item", service_error_code=code, http_status_code=400)
    stubber.add_response("get_item", {})
    with stubber:
        assert repo.latest("abc123") is None
    assert len(sleeps) == 2


def test_throttling_that_lasts_is_store_unavailable() -> None:
    client, stubber = stubbed()
    repo = stubbed_flights(client)
    for _ in range(4):
        stubber.add_client_error(
            "get_item", service_error_code="ThrottlingException", http_status_code=400
        )
    with stubber, pytest.raises(DynamoUnavailable, match="throttled after 4 attempts") as exc:
        repo.latest("abc123")
    assert exc.value.code == "ThrottlingException"
    assert isinstance(exc.value.__cause__, ClientError)


def test_other_client_errors_are_store_unavailable_at_once() -> None:
    client, stubber = stubbed()
    repo = stubbed_flights(client)
    stubber.add_client_error("get_item", service_error_code="ResourceNotFoundException")
    with stubber, pytest.raises(StoreUnavailable) as exc:
        repo.latest("abc123")
    assert isinstance(exc.value, DynamoUnavailable)
    assert exc.value.code == "ResourceNotFoundException"


def test_an_endpoint_that_is_down_is_store_unavailable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = make_client(f"http://127.0.0.1:{port}", retries={"max_attempts": 1}, connect_timeout=1)
    # Connection errors are retried (the one retry layer); without the waits here.
    instant = Backoff(sleep=lambda s: None)
    repo = DynamoFlightRepository(client, DynamoNames.prefixed("down"), workers=1, backoff=instant)
    calls: list[Callable[[], object]] = [
        lambda: repo.latest("abc123"),
        lambda: repo.put_states([make_state()]),
        lambda: repo.search_latest(FlightFilter(), first=10),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable) as exc:
            call()
        assert isinstance(exc.value.__cause__, BotoCoreError)
    with pytest.raises(StoreUnavailable):
        create_tables(client, DynamoNames.prefixed("down"), wait=False)


# --- recent states through RegionTimeIndex ------------------------------------------------


def moving_world() -> list[FlightState]:
    """Three reports 10 s apart of 60 aircraft over the globe, each flying a little east;
    every fifth last heard of without a position, every seventh with a position 200 s
    older than its last contact."""
    states = []
    for i in range(60):
        for step in range(3):
            at = T0 + timedelta(seconds=10 * step + i % 9)
            position = at - timedelta(seconds=200) if i % 7 == 0 else at
            last = i % 5 == 0 and step == 2
            states.append(
                make_state(
                    f"{i:06x}",
                    position,
                    last_contact=at,
                    latitude=None if last else -60.0 + 2 * i,
                    longitude=None if last else -179.0 + 6 * i + 0.05 * step,
                    on_ground=i % 3 == 0,
                    callsign=f"TST{i:03d}",
                    origin_country="Germany" if i % 2 else "Spain",
                )
            )
    return states


BOXES = [
    BoundingBox(-20.0, -60.0, 30.0, 60.0),
    BoundingBox(-25.0, 170.0, 0.0, -170.0),  # across the antimeridian
    BoundingBox(-90.0, -180.0, 90.0, 180.0),
    BoundingBox(49.5, -11.0, 61.0, 2.0),
]


@pytest.mark.parametrize("box", BOXES)
def test_recent_states_from_the_index_are_the_latest_states(
    flights: DynamoFlightRepository, box: BoundingBox
) -> None:
    flights.put_states(moving_world())
    newest = flights.newest_contact()
    assert newest is not None
    live = FlightFilter(bbox=box, since=newest - timedelta(minutes=5))
    for flt in [
        live,
        replace(live, since=newest - timedelta(seconds=12)),
        replace(live, on_ground=False),
        replace(live, callsign_prefix="tst0"),
        replace(live, origin_country="SPAIN"),
    ]:
        assert flights.search_recent(flt, first=1000) == flights.search_latest(flt, first=1000)
    after = None
    while True:  # the same pages, the same cursors
        page = flights.search_recent(live, first=7, after=after)
        assert page == flights.search_latest(live, first=7, after=after)
        if not page.has_next_page:
            break
        after = page.end_cursor


def test_recent_states_read_only_the_regions_of_the_box(
    dynamodb_local: DynamoDBLocal, names: DynamoNames
) -> None:
    recorder = Recorder(dynamodb_local.client)
    repo = DynamoFlightRepository(recorder, names, workers=1)  # type: ignore[arg-type]
    repo.put_states([make_state("abc123", T0, latitude=51.5, longitude=-0.1)])  # London
    partitions: set[str] = set()
    real_query = recorder.query

    def query(**kwargs: Any) -> Any:
        partitions.add(kwargs["ExpressionAttributeValues"][":rt"]["S"])
        return real_query(**kwargs)

    recorder.query = query  # type: ignore[method-assign]
    british_isles = FlightFilter(bbox=BoundingBox(49.5, -11.0, 61.0, 2.0), since=T0)
    assert codes(repo.search_recent(british_isles, first=10)) == ["abc123"]  # type: ignore[arg-type]
    # 11:55 to 12:01: the position may be 5 minutes older than the last contact.
    assert partitions == {f"{r}#{h}" for r in ("europe", "unknown") for h in HOURS}
    repo.close()


HOURS = ("2024060111", "2024060112")


def codes(page: Page[FlightState]) -> list[str]:
    return [s.icao24 for s in page.items]


def test_recent_states_answer_only_live_window_box_queries(
    dynamodb_local: DynamoDBLocal, names: DynamoNames, flights: DynamoFlightRepository
) -> None:
    client = dynamodb_local.client
    box = BoundingBox(40.0, 0.0, 50.0, 10.0)
    assert flights.search_recent(FlightFilter(bbox=box, since=T0), first=10) == Page(
        [], [], 0, False
    )  # nothing stored yet
    flights.put_states([make_state("abc123", T0)])
    assert flights.search_recent(FlightFilter(since=T0), first=10) is None  # no box
    assert flights.search_recent(FlightFilter(bbox=box), first=10) is None  # no since
    long_ago = FlightFilter(bbox=box, since=T0 - timedelta(hours=1))  # a history query
    assert flights.search_recent(long_ago, first=10) is None
    window_of_a_year = DynamoFlightRepository(client, names, recent_window=timedelta(days=365))
    assert window_of_a_year.search_recent(long_ago, first=10) is None  # too much to read
    window_of_a_year.close()
    with pytest.raises(InvalidArgument):
        flights.search_recent(FlightFilter(bbox=box, since=T0), first=10, after="nonsense")


# --- cursors ------------------------------------------------------------------------------


def letter(n: int, reason: str = "stale_position") -> DeadLetter:
    return DeadLetter(
        reason=reason,
        detail=f"detail {n}",
        source="opensky",
        raw=[f"{n:06x}", None],
        received_at=datetime(2024, 6, 1, tzinfo=UTC) + timedelta(seconds=n),
    )


@pytest.fixture
def letters(
    dynamodb_local: DynamoDBLocal, names: DynamoNames
) -> Iterator[DynamoDeadLetterRepository]:
    repo = DynamoDeadLetterRepository(dynamodb_local.client, names)
    repo.add([letter(n, "stale_position" if n % 3 else "schema") for n in range(12)])
    yield repo
    repo.close()


def test_cursors_are_opaque_keys_of_the_last_letter(letters: DynamoDeadLetterRepository) -> None:
    page = letters.list(first=5)
    assert page.end_cursor is not None
    assert "DL" not in page.end_cursor
    assert "sk" not in page.end_cursor
    key = cursor.decode("dead-letters", page.end_cursor)
    assert key == {"pk": "DL", "sk": page.items[-1].id}
    rest = letters.list(first=100, after=page.end_cursor)
    assert [d.detail for d in page.items + rest.items] == [f"detail {n}" for n in range(12)]


def test_tampered_cursors_are_invalid_arguments(letters: DynamoDeadLetterRepository) -> None:
    good = letters.list(first=2).end_cursor
    by_reason = letters.list(first=2, reason="schema").end_cursor
    assert good is not None
    assert by_reason is not None
    key = cursor.decode("dead-letters", good)
    tampered = [
        good[:-2] + ("A" if good[-2] != "A" else "B") + good[-1],  # bytes changed
        good[::-1],
        by_reason,  # another partition: a reason's cursor on the unfiltered list
        cursor.encode("dead-letters", {**key, "sk": "1; DROP"}),
        cursor.encode("dead-letters", {**key, "extra": 1}),
        cursor.encode("dead-letters", {"pk": "CYCLE", "sk": key["sk"]}),
        cursor.encode("dead-letters", key["sk"]),
        cursor.encode("flights", key),
    ]
    for bad in tampered:
        with pytest.raises(InvalidArgument, match="unknown cursor"):
            letters.list(first=2, after=bad)
    with pytest.raises(InvalidArgument, match="unknown cursor"):
        letters.list(first=2, after=good, reason="schema")


def test_counts_follow_every_change(letters: DynamoDeadLetterRepository) -> None:
    assert letters.reasons() == {"schema": 4, "stale_position": 8}
    ids = [d.id for d in letters.list(first=3, reason="schema").items]
    letters.retried(ids[:2], "malformed_row", "retried")
    assert letters.reasons() == {"schema": 2, "stale_position": 8, "malformed_row": 2}
    assert [d.attempts for d in letters.get(ids)] == [2, 2, 1]
    assert letters.remove([ids[0], "not-an-id"]) == 1
    assert letters.count("malformed_row") == 1
    assert letters.prune(datetime(2024, 6, 1, 0, 0, 5, tzinfo=UTC)) == 4  # letters 0 to 4
    assert letters.count() == 12 - 1 - 4
    assert sum(letters.reasons().values()) == letters.count()
