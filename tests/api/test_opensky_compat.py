"""``GET /api/states/all`` read the way OpenSky's own clients read OpenSky.

``OpenSkyStates`` and ``StateVector`` below parse exactly as the official Python client
(``openskynetwork/opensky-api`` ``python/opensky_api.py``) does: ``dict(zip(keys, row))``
by position, ``states: null`` becoming an empty list. The request carries the parameters
that client sends (``time=0``, ``extended=True``, the bbox as ``lamin``/``lamax``/
``lomin``/``lomax``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from types import ModuleType, SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from api.opensky import state_vector
from app import Runtime, create_app
from config import Settings
from ingestion.sources import FileSource
from runtime.ingest import build_pipeline
from security.ratelimit import LocalBuckets
from storage.base import FlightFilter
from testkit import FIXTURES, ReplayWorld, TestClient, make_state

KEYS = [
    "icao24",
    "callsign",
    "origin_country",
    "time_position",
    "last_contact",
    "longitude",
    "latitude",
    "baro_altitude",
    "on_ground",
    "velocity",
    "true_track",
    "vertical_rate",
    "sensors",
    "geo_altitude",
    "squawk",
    "spi",
    "position_source",
    "category",
]
POSITION_SOURCES = {"ADSB": 0, "ASTERIX": 1, "MLAT": 2, "FLARM": 3}
ALPS = {"lamin": 45.8, "lamax": 47.9, "lomin": 5.9, "lomax": 10.6}


class StateVector:
    def __init__(self, arr: list[Any]) -> None:
        self.__dict__ = dict(zip(KEYS, arr, strict=False))


class OpenSkyStates:
    def __init__(self, j: dict[str, Any]) -> None:
        self.__dict__ = j
        self.states = [StateVector(a) for a in self.states] if self.states is not None else []


FLIGHTS = """
query ($bbox: BoundingBoxInput, $after: String) {
  flights(bbox: $bbox, first: 1000, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      icao24 callsign originCountry timePosition lastContact longitude latitude
      baroAltitudeM onGround velocityMps trueTrackDeg verticalRateMps geoAltitudeM
      squawk spi positionSource category
    }
  }
}
"""


def _graphql_flights(world: ReplayWorld, bbox: dict[str, float] | None) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        body = world.query(FLIGHTS, bbox=bbox, after=after)
        assert "errors" not in body
        page = body["data"]["flights"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _epoch(iso: str | None) -> int | None:
    return None if iso is None else int(datetime.fromisoformat(iso).timestamp())


def _get_states(client: TestClient, **params: Any) -> OpenSkyStates:
    response = client.get("/api/states/all", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return OpenSkyStates(response.json())


def _assert_same_flight(sv: StateVector, node: dict[str, Any]) -> None:
    assert sv.icao24 == node["icao24"]
    assert (sv.callsign.rstrip() or None) == node["callsign"]
    assert len(sv.callsign) == (8 if node["callsign"] else 0)
    assert sv.origin_country == (node["originCountry"] or "")
    assert sv.time_position == _epoch(node["timePosition"])
    assert sv.last_contact == _epoch(node["lastContact"])
    assert (sv.longitude, sv.latitude) == (node["longitude"], node["latitude"])
    assert sv.baro_altitude == node["baroAltitudeM"]
    assert sv.on_ground is node["onGround"]
    assert sv.velocity == node["velocityMps"]
    assert sv.true_track == node["trueTrackDeg"]
    assert sv.vertical_rate == node["verticalRateMps"]
    assert sv.sensors is None
    assert sv.geo_altitude == node["geoAltitudeM"]
    assert sv.squawk == node["squawk"]
    assert sv.spi is node["spi"]
    assert sv.position_source == POSITION_SOURCES.get(node["positionSource"])
    assert sv.category == (node["category"] or 0)


@pytest.mark.parametrize("bbox", [ALPS, None], ids=["alps", "world"])
def test_states_parsed_as_the_official_client_does_are_the_flights_of_graphql(
    replay_world: ReplayWorld, bbox: dict[str, float] | None
) -> None:
    states = _get_states(replay_world.client, time=0, extended="True", **(bbox or {}))
    box = None
    if bbox:
        box = {"south": bbox["lamin"], "west": bbox["lomin"]}
        box |= {"north": bbox["lamax"], "east": bbox["lomax"]}
    nodes = {n["icao24"]: n for n in _graphql_flights(replay_world, box)}

    assert len(states.states) == len(nodes) > (20 if bbox else 4000)
    assert [sv.icao24 for sv in states.states] == sorted(nodes)
    for sv in states.states:
        _assert_same_flight(sv, nodes[sv.icao24])
    assert isinstance(states.time, int)
    if bbox is None:  # the time of the newest data
        assert states.time == max(sv.last_contact for sv in states.states)


def test_rows_have_17_elements_and_18_with_extended(replay_world: ReplayWorld) -> None:
    plain = replay_world.client.get("/api/states/all", params=ALPS).json()
    extended = replay_world.client.get("/api/states/all", params={**ALPS, "extended": 1}).json()

    assert {len(row) for row in plain["states"]} == {17}
    assert {len(row) for row in extended["states"]} == {18}
    assert [row[:17] for row in extended["states"]] == plain["states"]
    # python-opensky zips its 18 keys with strict=True: an extended row must fit exactly.
    assert all(dict(zip(KEYS, row, strict=True)) for row in extended["states"])
    assert all(isinstance(row[17], int) and 0 <= row[17] <= 20 for row in extended["states"])


def test_icao24_is_repeatable_and_case_insensitive(replay_world: ReplayWorld) -> None:
    everything = _get_states(replay_world.client).states
    wanted = [everything[10].icao24, everything[500].icao24]

    states = _get_states(
        replay_world.client, icao24=[wanted[1].upper(), wanted[0], "000000"]
    ).states

    assert [sv.icao24 for sv in states] == sorted(wanted)
    assert [sv.__dict__ for sv in states] == [
        sv.__dict__ for sv in everything if sv.icao24 in wanted
    ]


def test_an_empty_answer_is_null_states_as_opensky_sends_it(replay_world: ReplayWorld) -> None:
    response = replay_world.client.get(
        "/api/states/all", params={"lamin": -89.9, "lamax": -89.5, "lomin": 0, "lomax": 1}
    )

    body = response.json()
    assert response.status_code == 200
    assert body["states"] is None
    assert isinstance(body["time"], int)
    assert OpenSkyStates(body).states == []


def test_an_empty_store_answers_null_states(client: TestClient) -> None:
    body = client.get("/api/states/all").json()
    assert body["states"] is None
    assert isinstance(body["time"], int)


def test_no_callsign_or_country_is_an_empty_string_and_ground_keeps_its_altitude() -> None:
    state = make_state(callsign=None, origin_country=None, on_ground=True, baro_altitude_m=-15.2)

    vector = state_vector(state, extended=False)

    assert (vector[1], vector[2]) == ("", "")  # as OpenSky sends them
    assert (vector[7], vector[8]) == (-15.2, True)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("opensky_states_bbox_alps_79.json", {}),
        # Blank callsigns, some of them four spaces.
        ("opensky_states_all_18field_first500.json", {"extended": 1}),
    ],
)
def test_a_recorded_opensky_response_comes_back_as_it_was_recorded(
    client: TestClient, name: str, params: dict[str, Any]
) -> None:
    """OpenSky in, OpenSky out: the same vectors, field for field, in OpenSky's units."""
    recorded = json.loads((FIXTURES / name).read_text())
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    pipeline = build_pipeline(runtime.settings, runtime.stores, None)
    report = pipeline.process("file", recorded, FileSource.normalise)
    assert report.stored > 60

    served = client.get("/api/states/all", params=params).json()["states"]

    by_icao = {row[0]: row for row in recorded["states"]}
    stored = runtime.stores.flights.search_latest(FlightFilter(), first=1000).items
    assert len(served) == len(stored)
    for row in served:
        expected = list(by_icao[row[0]])
        expected[1] = expected[1] if expected[1].strip() else ""  # blank, however long
        assert row == expected
    if name.endswith("first500.json"):  # the blank callsigns the sample holds came back
        assert any(row[1] == "" for row in served)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lamin": 45}, "lomin, lamax, lomax missing"),
        ({"lamin": 95, "lamax": 96, "lomin": 0, "lomax": 1}, "lamin must be between -90 and 90"),
        ({"lamin": 47, "lamax": 46, "lomin": 0, "lomax": 1}, "lamin (47) must not be greater"),
        ({"lamin": "x", "lamax": 46, "lomin": 0, "lomax": 1}, "lamin must be a number"),
        ({"icao24": "nothex"}, "icao24 must be 6 hexadecimal digits"),
        ({"time": "yesterday"}, "time must be a whole number"),
        ({"time": -5}, "time must be at least 0"),
        ({"time": "1_000"}, "time must be a whole number"),
        ({"time": "1e5"}, "time must be a whole number"),
        ({"time": "9" * 5000}, "time must be a whole number"),
        ({"time": 253_402_300_800}, "time must be at most 253402300799"),
        ({"lamin": "nan", "lamax": 46, "lomin": 0, "lomax": 1}, "lamin must be a number"),
        ({"lamin": "-inf", "lamax": 46, "lomin": 0, "lomax": 1}, "lamin must be a number"),
        ({"lamin": "1e400", "lamax": 46, "lomin": 0, "lomax": 1}, "lamin must be a number"),
        ({"extended": "maybe"}, "extended must be true or false"),
    ],
)
def test_a_bad_parameter_is_a_400_that_says_what_is_wrong(
    replay_world: ReplayWorld, params: dict[str, Any], message: str
) -> None:
    response = replay_world.client.get("/api/states/all", params=params)

    assert response.status_code == 400
    assert message in response.json()["error"]


# -- OpenSky's own client: pyopensky (open-aviation/pyopensky, pyopensky.rest.REST) ------


@pytest.fixture(scope="module")
def pyopensky_rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """``pyopensky.rest``, anonymous, its settings and cache in a temporary folder."""
    home = tmp_path_factory.mktemp("pyopensky")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(home / "config"))
        patch.setenv("XDG_CACHE_HOME", str(home / "cache"))
        for name in ("CLIENT_ID", "CLIENT_SECRET", "USERNAME", "PASSWORD"):
            patch.delenv(f"OPENSKY_{name}", raising=False)
        yield importlib.import_module("pyopensky.rest")


def _pointed_at(module: ModuleType, client: TestClient) -> Any:
    """A pyopensky ``REST`` whose requests to opensky-network.org reach ``client``'s app
    (the test client answers whatever host a URL names)."""
    rest = module.REST()
    rest.client = client
    return rest


def test_pyopensky_reads_the_states_of_graphql(
    replay_world: ReplayWorld, pyopensky_rest: ModuleType
) -> None:
    rest = _pointed_at(pyopensky_rest, replay_world.client)
    box = {"south": ALPS["lamin"], "west": ALPS["lomin"], "north": ALPS["lamax"]}
    nodes = {n["icao24"]: n for n in _graphql_flights(replay_world, box | {"east": ALPS["lomax"]})}

    frame = rest.states(bounds=(ALPS["lomin"], ALPS["lamin"], ALPS["lomax"], ALPS["lamax"]))

    assert sorted(frame.icao24) == sorted(nodes)
    assert len(frame) > 20
    for row in frame.to_dict("records"):
        node = nodes[row["icao24"]]
        assert (row["callsign"] or None) == node["callsign"]
        assert row["timestamp"] == pd.Timestamp(node["lastContact"]).floor("s")
        assert (row["latitude"], row["longitude"]) == (node["latitude"], node["longitude"])
        assert _missing(row["altitude"]) == node["baroAltitudeM"]
        assert row["onground"] == node["onGround"]
        assert _missing(row["groundspeed"]) == node["velocityMps"]


def _missing(value: Any) -> Any:
    return None if value is pd.NA else value


def test_pyopensky_waits_out_a_429_for_as_long_as_it_is_told(
    seeded_settings: Settings, pyopensky_rest: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiers = (("anonymous", 0.25, 1), ("standard", 1.0, 5))
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # pyopensky's wait, on the limiter's clock
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(pyopensky_rest, "time", SimpleNamespace(sleep=sleep))
    app = create_app(replace(seeded_settings, rate_tiers=tiers), ingest=False)
    with TestClient(app) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert runtime.security.gate is not None
        runtime.security.gate.limiter = LocalBuckets(clock=lambda: now[0])
        first = client.get("/api/states/all")
        refused = client.get("/api/states/all")
        graphql = client.post("/graphql", json={"query": "{ __typename }"})

        body = _pointed_at(pyopensky_rest, client).get("https://opensky-network.org/api/states/all")

    assert first.status_code == 200
    assert first.headers["x-rate-limit-remaining"] == "0"
    assert "x-rate-limit-retry-after-seconds" not in first.headers
    assert refused.status_code == 429
    assert refused.headers["x-rate-limit-retry-after-seconds"] == "4"  # a token per 4 s
    assert "x-rate-limit-remaining" not in graphql.headers  # OpenSky's names on /api/ only
    assert slept == [4]
    assert body == {"time": body["time"], "states": None}
