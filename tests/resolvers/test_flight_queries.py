"""``flights``, ``flight`` and ``track`` over HTTP, on the replayed world (two cycles)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from domain import BoundingBox
from testkit import ReplayWorld

NODE = "icao24 callsign originCountry latitude longitude onGround velocityMps lastContact"


def walk(world: ReplayWorld, args: str = "", first: int = 1000) -> tuple[list[dict[str, Any]], int]:
    """Every flight the query matches, page by page through cursors; and the total count."""
    query = f"""query ($after: String) {{
      flights({args} first: {first}, after: $after) {{
        totalCount
        edges {{ cursor node {{ {NODE} }} }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}"""
    nodes: list[dict[str, Any]] = []
    totals = set()
    after = None
    while True:
        body = world.query(query, after=after)
        assert "errors" not in body, body
        conn = body["data"]["flights"]
        totals.add(conn["totalCount"])
        nodes += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            assert len(conn["edges"]) <= first
            break
        assert len(conn["edges"]) == first
        assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        after = conn["pageInfo"]["endCursor"]
    assert len(totals) == 1, totals
    return nodes, totals.pop()


@pytest.fixture(scope="module")
def everything(replay_world: ReplayWorld) -> list[dict[str, Any]]:
    nodes, total = walk(replay_world)
    assert len(nodes) == total
    return nodes


def only(nodes: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool]) -> list[str]:
    return [n["icao24"] for n in nodes if keep(n)]


def error_of(body: dict[str, Any]) -> str:
    """The one error's message; its field is null (and so ``data``, if that is non-null)."""
    data = body["data"]
    assert data is None or set(data.values()) == {None}, body
    [error] = body["errors"]
    message: str = error["message"]
    return message


def test_both_cycles_were_ingested_alike(replay_world: ReplayWorld) -> None:
    first, second = replay_world.reports
    assert first.received == second.received == 5_485
    assert first.duplicates == second.duplicates == 0
    assert first.stored > 5_000
    for report in (first, second):
        # The recording's stale positions and its grounded aircraft at 28,559 m, every cycle.
        assert report.reasons["stale_position"] == 69
        assert report.reasons["implausible_altitude"] == 1
        # Its two implausible climbers are rejected only while they climb: near a turn of
        # their shuttle, which depends on the clock (ingestion/replay.py).
        assert report.reasons["implausible_vertical_rate"] <= 2
        assert set(report.reasons) <= {
            "stale_position",
            "implausible_altitude",
            "implausible_vertical_rate",
        }
        assert report.stored + report.rejected + report.duplicates == report.received
    # Rejected in both cycles: the 69 stale positions, the grounded one and any climber.
    assert 70 <= replay_world.rejected_with_position <= 72


def test_total_count_is_aircraft_with_a_position_less_rejects(replay_world: ReplayWorld) -> None:
    body = replay_world.query(
        "{ flights(first: 5) { totalCount nodes { icao24 latitude longitude } } }"
    )
    assert "errors" not in body
    flights = body["data"]["flights"]
    assert flights["totalCount"] == 5_384 - replay_world.rejected_with_position
    assert flights["totalCount"] > 5_000
    assert len(flights["nodes"]) == 5
    for node in flights["nodes"]:
        assert set(node) == {"icao24", "latitude", "longitude"}
        assert isinstance(node["latitude"], float)
        assert isinstance(node["longitude"], float)


def test_walking_every_page_sees_every_flight_once(
    replay_world: ReplayWorld, everything: list[dict[str, Any]]
) -> None:
    codes = [n["icao24"] for n in everything]
    assert len(set(codes)) == len(codes)
    assert codes == sorted(codes)
    assert len(codes) == 5_384 - replay_world.rejected_with_position
    smaller, total = walk(replay_world, first=777)
    assert [n["icao24"] for n in smaller] == codes
    assert total == len(codes)


def test_page_info_and_default_page_size(replay_world: ReplayWorld) -> None:
    body = replay_world.query(
        "{ flights { totalCount nodes { icao24 } edges { cursor }"
        " pageInfo { hasNextPage endCursor } } }"
    )
    conn = body["data"]["flights"]
    assert len(conn["nodes"]) == 100
    assert conn["pageInfo"]["hasNextPage"] is True
    assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]


def test_bbox_only_returns_flights_inside(
    replay_world: ReplayWorld, everything: list[dict[str, Any]]
) -> None:
    nodes, total = walk(replay_world, "bbox: {south: 35, west: -10, north: 60, east: 30}")
    box = BoundingBox(35, -10, 60, 30)
    assert all(box.contains(n["latitude"], n["longitude"]) for n in nodes)
    assert [n["icao24"] for n in nodes] == only(
        everything, lambda n: box.contains(n["latitude"], n["longitude"])
    )
    assert 500 < total < len(everything)


def test_bbox_across_the_antimeridian(
    replay_world: ReplayWorld, everything: list[dict[str, Any]]
) -> None:
    nodes, _ = walk(replay_world, "bbox: {south: -50, west: 160, north: 65, east: -150}")
    assert nodes
    assert all(n["longitude"] >= 160 or n["longitude"] <= -150 for n in nodes)
    assert any(n["longitude"] >= 160 for n in nodes)
    assert any(n["longitude"] <= -150 for n in nodes)
    box = BoundingBox(-50, 160, 65, -150)
    assert [n["icao24"] for n in nodes] == only(
        everything, lambda n: box.contains(n["latitude"], n["longitude"])
    )


def test_filters(replay_world: ReplayWorld, everything: list[dict[str, Any]]) -> None:
    germans, _ = walk(replay_world, 'originCountry: "germany"')
    assert [n["icao24"] for n in germans] == only(
        everything, lambda n: n["originCountry"] == "Germany"
    )
    assert germans
    grounded, _ = walk(replay_world, "onGround: true")
    assert [n["icao24"] for n in grounded] == only(everything, lambda n: n["onGround"])
    assert 200 < len(grounded) < 500
    lufthansa, _ = walk(replay_world, 'callsignPrefix: "DLH"')
    assert [n["icao24"] for n in lufthansa] == only(
        everything, lambda n: (n["callsign"] or "").startswith("DLH")
    )
    assert lufthansa
    combined, _ = walk(
        replay_world,
        'onGround: false, originCountry: "United States", '
        "bbox: {south: 24, west: -125, north: 50, east: -66}",
    )
    assert combined
    assert all(not n["onGround"] and n["originCountry"] == "United States" for n in combined)


def test_since_in_the_future_matches_nothing(replay_world: ReplayWorld) -> None:
    body = replay_world.query(
        '{ flights(since: "2999-01-01T00:00:00Z") { totalCount nodes { icao24 } } }'
    )
    assert body["data"]["flights"] == {"totalCount": 0, "nodes": []}


@pytest.mark.parametrize("since", ["2020-01-01T00:00:00", "2020-01-01"])
def test_since_names_its_time_zone(replay_world: ReplayWorld, since: str) -> None:
    body = replay_world.query("query ($s: DateTime) { flights(since: $s) { totalCount } }", s=since)

    assert error_of(body) == "since must include a time zone, e.g. 2024-01-15T14:00:00Z"


def test_since_keeps_recent_contacts(
    replay_world: ReplayWorld, everything: list[dict[str, Any]]
) -> None:
    newest = max(datetime.fromisoformat(n["lastContact"]) for n in everything)
    since = newest.replace(microsecond=0).isoformat()
    nodes, _ = walk(replay_world, f'since: "{since}"')
    expected = only(
        everything,
        lambda n: datetime.fromisoformat(n["lastContact"]) >= newest.replace(microsecond=0),
    )
    assert [n["icao24"] for n in nodes] == expected
    assert 0 < len(expected) < len(everything)


def test_first_above_max_page_size_is_a_clear_error(replay_world: ReplayWorld) -> None:
    response = replay_world.client.post(
        "/graphql", json={"query": "{ flights(first: 5000) { totalCount } }"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == "first must be between 1 and 1000 (MAX_PAGE_SIZE), got 5000"
    assert error["path"] == ["flights"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("first: 0", "first must be between 1 and 1000 (MAX_PAGE_SIZE), got 0"),
        (
            "bbox: {south: 50, west: 0, north: 40, east: 10}",
            "south (50.0) must not be greater than north (40.0)",
        ),
        (
            "bbox: {south: -95, west: 0, north: 40, east: 10}",
            "south must be between -90 and 90 degrees, got -95.0",
        ),
        (
            "bbox: {south: 0, west: 0, north: 40, east: 190}",
            "east must be between -180 and 180 degrees, got 190.0",
        ),
        ('after: "bm90LWEtY3Vyc29y"', "unknown cursor 'bm90LWEtY3Vyc29y'"),
        ('after: "garbage!"', "unknown cursor 'garbage!'"),
    ],
)
def test_invalid_arguments_say_what_is_wrong(
    replay_world: ReplayWorld, args: str, message: str
) -> None:
    body = replay_world.query(f"{{ flights({args}) {{ totalCount }} }}")
    assert error_of(body) == message


def test_cursor_of_another_connection_is_refused(replay_world: ReplayWorld) -> None:
    body = replay_world.query('{ airports(country: "IS", first: 1) { pageInfo { endCursor } } }')
    airport_cursor = body["data"]["airports"]["pageInfo"]["endCursor"]
    body = replay_world.query(
        "query ($c: String) { flights(after: $c) { totalCount } }", c=airport_cursor
    )
    assert error_of(body) == f"unknown cursor {airport_cursor!r}: not a flights cursor"


def test_schema_errors_are_graphql_errors_not_500(replay_world: ReplayWorld) -> None:
    response = replay_world.client.post(
        "/graphql", json={"query": '{ flights(first: "x") { totalCount } }'}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert "Int cannot represent" in body["errors"][0]["message"]
    response = replay_world.client.post("/graphql", json={"query": "{ flights { nope } }"})
    assert "Cannot query field 'nope'" in response.json()["errors"][0]["message"]


def airborne(everything: list[dict[str, Any]], n: int = 1) -> list[dict[str, Any]]:
    fast = [f for f in everything if not f["onGround"] and (f["velocityMps"] or 0) > 150]
    assert len(fast) >= n
    return fast[:n]


def test_flight_by_icao24(replay_world: ReplayWorld, everything: list[dict[str, Any]]) -> None:
    [target] = airborne(everything)
    query = (
        "query ($id: String!) { flight(icao24: $id) { icao24 callsign latitude source nonIcao } }"
    )
    body = replay_world.query(query, id=target["icao24"].upper())
    assert "errors" not in body
    assert body["data"]["flight"] == {
        "icao24": target["icao24"],
        "callsign": target["callsign"],
        "latitude": target["latitude"],
        "source": "REPLAY",
        "nonIcao": False,
    }


def test_unknown_flight_is_null(replay_world: ReplayWorld) -> None:
    body = replay_world.query(
        '{ flight(icao24: "000000") { icao24 } track(icao24: "000000") { icao24 } }'
    )
    assert body == {"data": {"flight": None, "track": None}}


@pytest.mark.parametrize("code", ["xyz", "3c64444", "", "3c 644"])
def test_bad_icao24_is_a_clear_error(replay_world: ReplayWorld, code: str) -> None:
    body = replay_world.query("query ($id: String!) { flight(icao24: $id) { icao24 } }", id=code)
    assert error_of(body) == f'icao24 must be 6 hexadecimal digits such as "3c6444", got {code!r}'


def test_track_has_ordered_points_from_both_cycles(
    replay_world: ReplayWorld, everything: list[dict[str, Any]]
) -> None:
    [target] = airborne(everything)
    query = """query ($id: String!) { track(icao24: $id) {
        icao24 callsign startTime endTime points { time latitude longitude onGround } } }"""
    body = replay_world.query(query, id=target["icao24"])
    assert "errors" not in body
    track = body["data"]["track"]
    assert track["icao24"] == target["icao24"]
    assert track["callsign"] == target["callsign"]
    points = track["points"]
    assert len(points) == 2
    times = [datetime.fromisoformat(p["time"]) for p in points]
    assert times == sorted(times)
    assert (times[1] - times[0]).total_seconds() == pytest.approx(10)
    assert (track["startTime"], track["endTime"]) == (points[0]["time"], points[-1]["time"])
    assert (points[0]["latitude"], points[0]["longitude"]) != (
        points[1]["latitude"],
        points[1]["longitude"],
    )
    assert (points[1]["latitude"], points[1]["longitude"]) == (
        target["latitude"],
        target["longitude"],
    )


def test_track_window_arguments(
    replay_world: ReplayWorld, everything: list[dict[str, Any]]
) -> None:
    [target] = airborne(everything)
    query = """query ($id: String!, $s: DateTime, $e: DateTime) {
        track(icao24: $id, start: $s, end: $e) { points { time } } }"""
    last = target["lastContact"]
    body = replay_world.query(query, id=target["icao24"], s=last, e=last)
    assert "errors" not in body
    assert len(body["data"]["track"]["points"]) <= 1
    body = replay_world.query(
        query, id=target["icao24"], s="2024-01-02T00:00:00Z", e="2024-01-01T00:00:00Z"
    )
    assert error_of(body).startswith("start (2024-01-02T00:00:00+00:00) must not be after end")
    body = replay_world.query(
        query, id=target["icao24"], s="2024-01-01T00:00:00Z", e="2024-01-05T00:00:00Z"
    )
    assert error_of(body) == "a track spans at most 2 days, 0:00:00; narrow start and end"
    body = replay_world.query(query, id=target["icao24"], s="2024-01-01T00:00:00")
    assert error_of(body) == "start must include a time zone, e.g. 2024-01-15T14:00:00Z"
    outside = "a track's start and end must lie between 0001-01-01 and 9999-12-31 (UTC)"
    for edge in (
        {"s": "9999-12-31T23:30:00Z"},  # its default hour ends after 9999
        {"e": "0001-01-01T00:30:00Z"},
        {"s": "0001-01-01T00:00:00+01:00"},
        {"e": "9999-12-31T23:00:00-02:00"},
    ):
        assert error_of(replay_world.query(query, id=target["icao24"], **edge)) == outside


def test_nested_fields_are_batched_per_request(
    replay_world: ReplayWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = replay_world.runtime.stores
    calls: dict[str, list[int]] = {"nearest": [], "tracks": []}

    def counting(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(keys: Any, *args: Any) -> Any:
            calls[name].append(len(keys))
            return method(keys, *args)

        return wrapper

    monkeypatch.setattr(stores.airports, "nearest", counting("nearest", stores.airports.nearest))
    monkeypatch.setattr(stores.flights, "tracks", counting("tracks", stores.flights.tracks))
    query = """{ flights(first: 200, bbox: {south: 35, west: -10, north: 60, east: 30}) {
        nodes { icao24 latitude longitude
                nearestAirport { distanceKm airport { icao latitude longitude } }
                track { points { time latitude longitude } } } } }"""
    body = replay_world.query(query)
    assert "errors" not in body, body["errors"][:1]
    nodes = body["data"]["flights"]["nodes"]
    assert len(nodes) == 200
    assert calls["nearest"] == [200]
    assert calls["tracks"] == [200]
    with_airport = [n for n in nodes if n["nearestAirport"] is not None]
    assert with_airport
    for node in with_airport:
        nearest = node["nearestAirport"]
        assert 0 <= nearest["distanceKm"] <= replay_world.runtime.settings.nearest_airport_km
    for node in nodes:
        points = node["track"]["points"]
        assert 1 <= len(points) <= 2
        assert (points[-1]["latitude"], points[-1]["longitude"]) == (
            node["latitude"],
            node["longitude"],
        )
    # A second request gets fresh loaders: nothing is cached across requests.
    replay_world.query(query)
    assert calls["nearest"] == [200, 200]


def test_nearest_airport_of_a_flight_on_the_ground(
    replay_world: ReplayWorld, everything: list[dict[str, Any]]
) -> None:
    grounded = [n for n in everything if n["onGround"] and n["originCountry"] == "United Kingdom"]
    assert grounded
    query = """query ($id: String!) {
        flight(icao24: $id) { nearestAirport { distanceKm airport { icao country } } } }"""
    body = replay_world.query(query, id=grounded[0]["icao24"])
    nearest = body["data"]["flight"]["nearestAirport"]
    assert nearest is not None
    assert nearest["distanceKm"] < 10


def test_unexpected_failures_are_masked(
    replay_world: ReplayWorld, monkeypatch: pytest.MonkeyPatch, everything: list[dict[str, Any]]
) -> None:
    def broken(icao24: str) -> None:
        raise RuntimeError("disk on fire at /var/secret/path")

    monkeypatch.setattr(replay_world.runtime.stores.flights, "latest", broken)
    response = replay_world.client.post(
        "/graphql",
        json={"query": f'{{ flight(icao24: "{everything[0]["icao24"]}") {{ icao24 }} }}'},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"flight": None}
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert "secret" not in response.text


def test_flights_carry_phase_region_and_route(replay_world: ReplayWorld) -> None:
    body = replay_world.query(
        "{ flights(first: 1000) { nodes { icao24 onGround phase region gridCell"
        " route { departedAt inFlight flownKm departureIcao departure { icao } } } } }"
    )

    assert "errors" not in body
    nodes = body["data"]["flights"]["nodes"]
    assert all(n["phase"] and n["region"] and n["gridCell"] for n in nodes)
    assert all(n["phase"] == "GROUND" for n in nodes if n["onGround"])
    with_route = [n for n in nodes if n["route"] is not None]
    assert len(with_route) > 900
    assert all(n["route"]["flownKm"] >= 0 for n in with_route)
    departed = [n["route"] for n in with_route if n["route"]["departureIcao"]]
    assert departed
    assert all(r["departure"]["icao"] == r["departureIcao"] for r in departed)
