"""``airport`` and ``airports`` over HTTP, on the seeded airportsdata airports."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from config import Settings
from domain.geo import haversine_km
from testkit import TestClient

HEATHROW = (51.4706, -0.46194)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[TestClient]:
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("airports"))
    shutil.copyfile(seeded_db, settings.database_path)
    with TestClient(create_app(settings, ingest=False)) as client:
        yield client


def query(api: TestClient, document: str, **variables: Any) -> dict[str, Any]:
    response = api.post("/graphql", json={"query": document, "variables": variables})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


AIRPORT = """query ($code: String!) { airport(code: $code) {
  icao iata name city country region latitude longitude elevationM timeZone } }"""


@pytest.mark.parametrize("code", ["LHR", "lhr", "EGLL", "egll", " egll "])
def test_heathrow_by_either_code(api: TestClient, code: str) -> None:
    body = query(api, AIRPORT, code=code)
    assert "errors" not in body
    assert body["data"]["airport"] == {
        "icao": "EGLL",
        "iata": "LHR",
        "name": "London Heathrow Airport",
        "city": "London",
        "country": "GB",
        "region": "England",
        "latitude": 51.4706,
        "longitude": -0.46194,
        "elevationM": 25.3,
        "timeZone": "Europe/London",
    }


def test_unknown_airport_is_null(api: TestClient) -> None:
    assert query(api, AIRPORT, code="ZZZZ") == {"data": {"airport": None}}
    assert query(api, AIRPORT, code="QQ9") == {"data": {"airport": None}}


@pytest.mark.parametrize("code", ["LH", "", "ABCDEFGHI"])
def test_bad_code_is_a_clear_error(api: TestClient, code: str) -> None:
    body = query(api, AIRPORT, code=code)
    assert body["data"] == {"airport": None}
    assert body["errors"][0]["message"] == (
        f"code must be an ICAO (4 letters) or IATA (3 letters) code, got {code!r}"
    )


NEAR = """query ($lat: Float!, $lon: Float!, $r: Float, $first: Int, $after: String) {
  airports(near: {latitude: $lat, longitude: $lon}, radiusKm: $r, first: $first, after: $after) {
    totalCount
    nodes { icao latitude longitude }
    pageInfo { hasNextPage endCursor }
  }
}"""


def test_airports_near_a_point_are_nearest_first(api: TestClient) -> None:
    body = query(api, NEAR, lat=HEATHROW[0], lon=HEATHROW[1], r=50.0, first=1000)
    assert "errors" not in body
    nodes = body["data"]["airports"]["nodes"]
    assert nodes[0]["icao"] == "EGLL"
    distances = [haversine_km(*HEATHROW, n["latitude"], n["longitude"]) for n in nodes]
    assert distances == sorted(distances)
    assert max(distances) <= 50.0
    assert {"EGLC", "EGKK", "EGWU"} <= {n["icao"] for n in nodes}
    assert body["data"]["airports"]["totalCount"] == len(nodes)


def test_airports_near_pages_continue_in_distance_order(api: TestClient) -> None:
    everything = query(api, NEAR, lat=HEATHROW[0], lon=HEATHROW[1], r=50.0, first=1000)
    expected = [n["icao"] for n in everything["data"]["airports"]["nodes"]]
    seen: list[str] = []
    after = None
    while True:
        conn = query(api, NEAR, lat=HEATHROW[0], lon=HEATHROW[1], r=50.0, first=3, after=after)[
            "data"
        ]["airports"]
        assert conn["totalCount"] == len(expected)
        seen += [n["icao"] for n in conn["nodes"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == expected


def test_airports_near_the_antimeridian(api: TestClient) -> None:
    body = query(api, NEAR, lat=-16.75, lon=179.95, r=60.0, first=10)
    codes = [n["icao"] for n in body["data"]["airports"]["nodes"]]
    assert {"NFNM", "NFNH"} <= set(codes)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"lat": 95.0, "lon": 0.0}, "latitude must be between -90 and 90 degrees, got 95.0"),
        ({"lat": 0.0, "lon": -190.0}, "longitude must be between -180 and 180 degrees, got -190.0"),
        ({"lat": 0.0, "lon": 0.0, "r": 0.0}, "radiusKm must be between 0 and 2000, got 0.0"),
        ({"lat": 0.0, "lon": 0.0, "r": 5000.0}, "radiusKm must be between 0 and 2000, got 5000.0"),
        (
            {"lat": 0.0, "lon": 0.0, "first": 1001},
            "first must be between 1 and 1000 (MAX_PAGE_SIZE), got 1001",
        ),
        ({"lat": 0.0, "lon": 0.0, "after": "nope"}, "unknown cursor 'nope'"),
    ],
)
def test_bad_airports_arguments(api: TestClient, variables: dict[str, Any], message: str) -> None:
    body = query(api, NEAR, **variables)
    assert body["data"] is None
    assert body["errors"][0]["message"] == message


def test_airports_by_country_region_and_text(api: TestClient) -> None:
    body = query(
        api,
        """{ is: airports(country: "is", first: 1000) { totalCount nodes { icao country } }
             england: airports(country: "GB", region: "England", first: 1) { totalCount }
             gb: airports(country: "GB", first: 1) { totalCount }
             text: airports(search: "heathrow") { nodes { icao } } }""",
    )
    assert "errors" not in body
    data = body["data"]
    assert data["is"]["totalCount"] == len(data["is"]["nodes"]) > 5
    assert {n["country"] for n in data["is"]["nodes"]} == {"IS"}
    assert 0 < data["england"]["totalCount"] < data["gb"]["totalCount"]
    assert "EGLL" in [n["icao"] for n in data["text"]["nodes"]]


def test_airport_edges_carry_cursors(api: TestClient) -> None:
    body = query(
        api,
        '{ airports(country: "IS", first: 2) {'
        "  edges { cursor node { icao } } pageInfo { endCursor } } }",
    )
    conn = body["data"]["airports"]
    assert len(conn["edges"]) == 2
    assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
    assert conn["edges"][0]["node"]["icao"] < conn["edges"][1]["node"]["icao"]


def test_runways_are_empty_without_ourairports_data(api: TestClient) -> None:
    body = query(api, '{ airport(code: "EGLL") { runways { ident } } }')
    assert body == {"data": {"airport": {"runways": []}}}
