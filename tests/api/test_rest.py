"""``GET /v1/flights`` and ``GET /v1/flights/{icao24}``: the flights of GraphQL, over REST."""

from __future__ import annotations

from typing import Any

import pytest

from testkit import ReplayWorld, TestClient

BRITISH_ISLES = {"south": 49.5, "west": -11.0, "north": 61.0, "east": 2.0}
PACIFIC = {"south": 15.0, "west": 150.0, "north": 70.0, "east": -120.0}


def _all_pages(client: TestClient, **params: Any) -> tuple[list[dict[str, Any]], int, int]:
    """Every flight, following ``next_cursor``; the flights, total_count and pages read."""
    flights: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        response = client.get(
            "/v1/flights", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        flights += body["flights"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return flights, body["total_count"], pages


def _graphql_codes(world: ReplayWorld, bbox: dict[str, float] | None = None) -> list[str]:
    codes: list[str] = []
    after = None
    while True:
        body = world.query(
            "query ($b: BoundingBoxInput, $a: String) { flights(bbox: $b, first: 1000, after: $a)"
            " { pageInfo { hasNextPage endCursor } nodes { icao24 } } }",
            b=bbox,
            a=after,
        )
        page = body["data"]["flights"]
        codes += [n["icao24"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return codes
        after = page["pageInfo"]["endCursor"]


def test_paging_through_every_flight_gives_the_flights_of_graphql(
    replay_world: ReplayWorld,
) -> None:
    flights, total, pages = _all_pages(replay_world.client, limit=1000)

    codes = [f["icao24"] for f in flights]
    assert codes == _graphql_codes(replay_world)
    assert total == len(codes) > 4000
    assert pages == -(-total // 1000)


@pytest.mark.parametrize("box", [BRITISH_ISLES, PACIFIC], ids=["british-isles", "antimeridian"])
def test_both_spellings_of_a_box_give_the_graphql_answer(
    replay_world: ReplayWorld, box: dict[str, float]
) -> None:
    csv = ",".join(str(box[k]) for k in ("south", "west", "north", "east"))
    corners = {"lamin": box["south"], "lomin": box["west"]}
    corners |= {"lamax": box["north"], "lomax": box["east"]}

    by_csv, total, _ = _all_pages(replay_world.client, bbox=csv, limit=37)
    by_corners, _, _ = _all_pages(replay_world.client, **corners)

    assert [f["icao24"] for f in by_csv] == _graphql_codes(replay_world, box)
    assert by_corners == by_csv
    assert total == len(by_csv) > 10


def test_filters_narrow_the_list(replay_world: ReplayWorld) -> None:
    ground, _, _ = _all_pages(replay_world.client, on_ground="true", limit=1000)
    ryanair, _, _ = _all_pages(replay_world.client, callsign_prefix="ryr", limit=1000)

    counts = replay_world.query(
        '{ g: flights(onGround: true) { totalCount } r: flights(callsignPrefix: "ryr") '
        "{ totalCount } }"
    )["data"]
    assert len(ground) == counts["g"]["totalCount"] > 100
    assert len(ryanair) == counts["r"]["totalCount"] > 10
    assert all(f["on_ground"] for f in ground)
    assert all(f["callsign"].startswith("RYR") for f in ryanair)


FLIGHT = """
query ($c: String!) {
  flight(icao24: $c) {
    icao24 callsign originCountry timePosition lastContact latitude longitude baroAltitudeM
    geoAltitudeM onGround velocityMps trueTrackDeg verticalRateMps squawk spi positionSource
    category source region phase
  }
}
"""


def test_one_flight_has_the_fields_and_units_of_graphql(replay_world: ReplayWorld) -> None:
    listed = replay_world.client.get("/v1/flights", params={"limit": 3}).json()["flights"][2]
    node = replay_world.query(FLIGHT, c=listed["icao24"])["data"]["flight"]

    one = replay_world.client.get(f"/v1/flights/{listed['icao24'].upper()}").json()

    assert one == listed
    camel = {
        "origin_country": "originCountry",
        "time_position": "timePosition",
        "last_contact": "lastContact",
        "baro_altitude_m": "baroAltitudeM",
        "geo_altitude_m": "geoAltitudeM",
        "on_ground": "onGround",
        "velocity_mps": "velocityMps",
        "true_track_deg": "trueTrackDeg",
        "vertical_rate_mps": "verticalRateMps",
        "position_source": "positionSource",
    }
    for key, value in one.items():
        if key in {"non_icao", "nearest_airport_icao", "nearest_airport_km"}:
            continue
        assert value == node[camel.get(key, key)], key


def test_an_empty_store_answers_an_empty_list(client: TestClient) -> None:
    response = client.get("/v1/flights")

    assert response.status_code == 200
    assert response.json() == {"time": None, "total_count": 0, "next_cursor": None, "flights": []}


def test_an_aircraft_never_seen_is_a_404(client: TestClient) -> None:
    response = client.get("/v1/flights/abcdef")

    assert response.status_code == 404
    assert response.json() == {"error": "no aircraft abcdef has been seen"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("lim=5", "unknown parameter 'lim'"),
        ("limit=0", "limit must be at least 1"),
        ("limit=1001", "limit must be between 1 and 1000 (MAX_PAGE_SIZE), got 1001"),
        ("limit=ten", "limit must be a whole number, got 'ten'"),
        ("limit=1_0", "limit must be a whole number"),
        ("limit=" + "9" * 5000, "limit must be a whole number"),
        ("limit=99999999999999999", "limit must be between 1 and 1000 (MAX_PAGE_SIZE)"),
        ("bbox=0,0,1,inf", "bbox must be four numbers"),
        ("bbox=0,0,1,1e400", "bbox must be four numbers"),
        ("lamin=1e999&lomin=0&lamax=1&lomax=1", "lamin must be a number"),
        ("limit=5&limit=6", "limit is given 2 times"),
        ("bbox=1,2,3", "bbox must be four numbers south,west,north,east"),
        ("bbox=50,0,40,1", "south (50) must not be greater than north (40)"),
        ("bbox=95,0,96,1", "south must be between -90 and 90 degrees, got 95"),
        ("bbox=0,-190,1,0", "west must be between -180 and 180 degrees, got -190"),
        ("bbox=nan,0,1,1", "bbox must be four numbers"),
        ("lamin=1&lamax=2", "lomin, lomax missing"),
        ("bbox=0,0,1,1&lamin=0&lomin=0&lamax=1&lomax=1", "give the box once"),
        ("cursor=bm9wZQ", "unknown cursor 'bm9wZQ'"),
        ("on_ground=maybe", "on_ground must be true or false"),
    ],
)
def test_a_bad_parameter_is_a_400_that_says_what_is_wrong(
    replay_world: ReplayWorld, query: str, message: str
) -> None:
    response = replay_world.client.get(f"/v1/flights?{query}")

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["error"]


def test_a_malformed_icao24_is_a_400(client: TestClient) -> None:
    response = client.get("/v1/flights/xyz")

    assert response.status_code == 400
    assert "icao24 must be 6 hexadecimal digits" in response.json()["error"]
