"""The readsb-compatible backend checked against recorded readsb and dump1090-fa output:
the same field names, units and values come back out of ``/data/aircraft.json`` as went
in; ``receiver.json`` and the traces say what tar1090 reads."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.readsb import EXPIRE_S, UpdateCounts
from app import Runtime, create_app
from config import Settings
from domain import FlightState
from ingestion.receiver import ReceiverSource
from runtime.ingest import build_pipeline
from storage.base import live_states
from testkit import FIXTURES, ReplayWorld, TestClient, make_state

SAMPLES = ["readsb_aircraft_plord12_london.json", "dump1090fa_aircraft_kdriver_2018.json"]
# Documented in readsb's README-json.md, but newer than the decoders that wrote the samples
# (``lastPosition``: a sample's position that has aged past a minute by the time it is read).
DOCUMENTED_SINCE = {"type", "lastPosition"}
ROUNDING_S = 0.2
NOW_ROUNDING_S = 0.05  # half the tenth ``now`` is printed to
FT_PER_M = 1 / 0.3048
KT_PER_MPS = 3600 / 1852
FPM_PER_MPS = 60 / 0.3048


def _runtime(client: TestClient) -> Runtime:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def _ingest_sample(client: TestClient, name: str) -> dict[str, Any]:
    """The recorded ``name``, taken as written now (its ``seen`` ages kept), ingested."""
    sample: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    sample["now"] = round(time.time(), 1)
    runtime = _runtime(client)
    pipeline = build_pipeline(runtime.settings, runtime.stores, None)
    report = pipeline.process("receiver", sample, ReceiverSource.normalise)
    assert report.stored > 20
    return sample


@pytest.mark.parametrize("name", SAMPLES)
def test_aircraft_json_has_the_recorded_names_units_and_values(
    client: TestClient, name: str
) -> None:
    sample = _ingest_sample(client, name)
    letters = _runtime(client).stores.dead_letters.list(first=1000).items
    dead = {letter.raw["hex"] for letter in letters if isinstance(letter.raw, dict)}
    recorded = {ac["hex"]: ac for ac in sample["aircraft"]}
    sample_keys = set().union(*(ac.keys() for ac in sample["aircraft"]))

    response = client.get("/data/aircraft.json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"now", "messages", "aircraft"}
    assert isinstance(body["now"], float)
    assert isinstance(body["messages"], int)
    served = {ac["hex"]: ac for ac in body["aircraft"]}
    age = body["now"] - sample["now"]  # how much older every recorded instant is now
    positioned = {h for h, ac in recorded.items() if "lat" in ac or "lastPosition" in ac}
    # ``now`` has a tenth of a second: an aircraft that much from a limit may fall either way.
    heard = {h for h, ac in recorded.items() if ac["seen"] + age < EXPIRE_S - ROUNDING_S}
    borderline = {h for h, ac in recorded.items() if abs(ac["seen"] + age - EXPIRE_S) <= ROUNDING_S}
    assert (positioned & heard) - dead <= set(served) <= (positioned & (heard | borderline)) - dead
    for hex_, ours in served.items():
        theirs = recorded[hex_]
        assert set(ours) <= sample_keys | DOCUMENTED_SINCE, hex_
        position = theirs.get("lastPosition", theirs)
        current = "lat" in theirs and theirs["seen_pos"] + age < EXPIRE_S
        if "lat" in theirs and abs(theirs["seen_pos"] + age - EXPIRE_S) <= ROUNDING_S:
            current = "lat" in ours
        assert ("lat" in ours, "lastPosition" in ours) == (current, not current), hex_
        mine = ours if current else ours["lastPosition"]
        assert (mine["lat"], mine["lon"]) == (position["lat"], position["lon"]), hex_
        for key in ("flight", "alt_baro", "alt_geom", "squawk", "category"):
            assert ours.get(key) == theirs.get(key), (hex_, key)
        for key in ("gs", "track"):
            assert ours.get(key) == pytest.approx(theirs.get(key), abs=0.05), (hex_, key)
        assert ours.get("baro_rate") == theirs.get("baro_rate", theirs.get("geom_rate"))
        assert ours["seen"] == pytest.approx(theirs["seen"] + age, abs=0.11)
        assert mine["seen_pos"] == pytest.approx(position["seen_pos"] + age, abs=0.11)
        _assert_readsb_types(ours)


def _assert_readsb_types(ac: dict[str, Any]) -> None:
    assert re.fullmatch(r"~?[0-9a-f]{6}", ac["hex"])
    assert ac.get("type", "adsb_icao") in {"adsb_icao", "adsb_other", "mlat", "other"}
    assert len(ac.get("flight", "12345678")) == 8
    assert ac.get("alt_baro", 0) == "ground" or isinstance(ac.get("alt_baro", 0), int)
    for key, kind in (("alt_geom", int), ("baro_rate", int), ("gs", float), ("track", float)):
        assert isinstance(ac.get(key, kind()), kind), key
    assert re.fullmatch(r"[0-7]{4}", ac.get("squawk", "7000"))
    assert re.fullmatch(r"[A-D][0-7]", ac.get("category", "A0"))
    # Ages are printed to a tenth, as readsb prints them: 59.96 s is listed, as "60.0".
    assert 0 <= ac["seen"] <= EXPIRE_S
    assert 0 <= ac.get("seen_pos", 0) <= EXPIRE_S
    # A position is current (lat, lon, seen_pos) or 60 s old (lastPosition), never both.
    last = ac.get("lastPosition")
    assert ("lat" in ac) == ("lon" in ac) == ("seen_pos" in ac) == (last is None)
    assert last is None or (set(last) == {"lat", "lon", "seen_pos"} and last["seen_pos"] >= 60)
    assert isinstance(ac["messages"], int)
    assert ac["messages"] >= 1


def test_aircraft_json_lists_the_flights_of_graphql_heard_within_a_minute(
    replay_world: ReplayWorld,
) -> None:
    body = replay_world.client.get("/data/aircraft.json").json()
    total = replay_world.query("{ flights(first: 1) { totalCount } }")["data"]["flights"]
    live = _live(replay_world)
    ages = {s.icao24: body["now"] - s.last_contact.timestamp() for s in live}
    heard = [s for s in live if ages[s.icao24] < EXPIRE_S]
    # ``now`` is printed to a tenth, the server listed by its own unrounded clock: an
    # aircraft within half a tenth of the minute may fall on either side of it.
    edge = {code for code, age in ages.items() if abs(age - EXPIRE_S) <= NOW_ROUNDING_S}

    assert len(live) == total["totalCount"] > len(heard) > 4000  # some were not, here
    hexes = [ac["hex"] for ac in body["aircraft"]]
    assert [h for h in hexes if h not in edge] == sorted(
        s.icao24 for s in heard if s.icao24 not in edge
    )
    for ac in body["aircraft"]:
        _assert_readsb_types(ac)
    assert body["messages"] >= sum(ac["messages"] for ac in body["aircraft"])


def _live(world: ReplayWorld) -> list[FlightState]:
    return live_states(world.runtime.stores.flights, world.runtime.settings.live_window_s)


@pytest.fixture
def hand_made(seeded_settings: Settings) -> Iterator[TestClient]:
    """An app holding a few hand-made states (no ingest), the last of them now."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=80)
    states = [
        make_state("abc123", start - timedelta(hours=1), callsign="EZY12", on_ground=False),
        make_state("abc123", start, callsign="EZY12", on_ground=True, baro_altitude_m=None),
        make_state("abc123", start + timedelta(seconds=10), callsign="EZY12"),
        make_state("abc123", start + timedelta(seconds=70), callsign="EZY12"),
        make_state(
            "abc123",
            start + timedelta(seconds=80),
            callsign="EZY34",
            baro_altitude_m=None,
            geo_altitude_m=1000.0,
            vertical_rate_mps=-5.08,
            squawk="7700",
            category=6,
        ),
        make_state("~abc124", start + timedelta(seconds=80), on_ground=True, spi=True),
    ]
    with TestClient(create_app(seeded_settings, ingest=False)) as test_client:
        _runtime(test_client).stores.flights.put_states(states)
        yield test_client


def test_readsb_units_ground_and_non_icao_addresses(hand_made: TestClient) -> None:
    body = hand_made.get("/data/aircraft.json").json()
    served = {ac["hex"]: ac for ac in body["aircraft"]}

    assert set(served) == {"abc123", "~abc124"}
    airborne, ground = served["abc123"], served["~abc124"]
    assert airborne["flight"] == "EZY34   "
    assert "alt_baro" not in airborne
    assert airborne["alt_geom"] == round(1000.0 * FT_PER_M) == 3281
    assert airborne["gs"] == round(230.0 * KT_PER_MPS, 1) == 447.1
    assert airborne["baro_rate"] == round(-5.08 * FPM_PER_MPS) == -1000
    assert (airborne["squawk"], airborne["category"]) == ("7700", "A5")
    assert ground["alt_baro"] == "ground"
    assert ground["spi"] == 1
    assert "spi" not in airborne


@pytest.mark.parametrize(
    ("interval_s", "listed"),
    [(10.0, {"abc001", "abc002"}), (45.0, {"abc001", "abc002", "abc003"})],
)
def test_a_minute_old_position_is_the_last_position_and_a_silent_aircraft_leaves(
    seeded_settings: Settings, interval_s: float, listed: set[str]
) -> None:
    now = datetime.now(UTC)
    states = [
        make_state("abc001", now),
        make_state("abc002", now - timedelta(seconds=90), last_contact=now - timedelta(seconds=5)),
        make_state("abc003", now - timedelta(seconds=70)),  # heard 70 s ago: gone, unless
    ]  # the source is polled so seldom (every 45 s) that readsb's minute is too short
    settings = replace(seeded_settings, interval_s=interval_s)
    with TestClient(create_app(settings, ingest=False)) as client:
        _runtime(client).stores.flights.put_states(states)
        response = client.get("/data/aircraft.json")

    body = response.json()
    served = {ac["hex"]: ac for ac in body["aircraft"]}
    assert response.headers["cache-control"] == "no-cache"
    assert set(served) == listed
    current, stale = served["abc001"], served["abc002"]
    assert (current["lat"], current["lon"]) == (48.85, 2.35)
    assert "lastPosition" not in current
    assert not {"lat", "lon", "seen_pos"} & set(stale)
    assert stale["lastPosition"] == {
        "lat": 48.85,
        "lon": 2.35,
        "seen_pos": pytest.approx(body["now"] - states[1].time.timestamp(), abs=0.11),
    }
    assert stale["seen"] == pytest.approx(
        body["now"] - states[1].last_contact.timestamp(), abs=0.11
    )
    assert all(ac["messages"] == 1 for ac in served.values())


def test_messages_counts_the_states_of_an_aircraft_since_it_appeared() -> None:
    counts = UpdateCounts()
    a1, b1 = make_state("abc001"), make_state("abc002")
    a2 = make_state("abc001", a1.time + timedelta(seconds=10))

    assert counts.count([a1, b1]) == [1, 1]
    assert counts.count([a1, b1]) == [1, 1]  # nothing new
    assert counts.count([a2, b1]) == [2, 1]
    assert counts.count([a2]) == [2]
    assert counts.count([a2, b1]) == [2, 1]  # b left and came back: counted afresh
    assert counts.total == 4  # every state counted once, whatever left since


def test_receiver_json_is_what_tar1090_needs(replay_world: ReplayWorld) -> None:
    receiver = replay_world.client.get("/data/receiver.json").json()
    aircraft = [{"lat": s.latitude, "lon": s.longitude} for s in _live(replay_world)]

    assert receiver["version"].startswith("flightdata")
    assert receiver["refresh"] == 10_000  # one ingest interval, in ms
    assert receiver["history"] == 0
    assert receiver["haveTraces"] is True
    assert "globeIndexGrid" not in receiver  # tar1090 then polls aircraft.json
    assert receiver["lat"] == round(statistics.median(ac["lat"] for ac in aircraft), 4)
    assert receiver["lon"] == round(statistics.median(ac["lon"] for ac in aircraft), 4)


def test_receiver_json_names_a_configured_site(seeded_settings: Settings) -> None:
    settings = replace(seeded_settings, site_lat=51.4775, site_lon=-0.4614, interval_s=0.5)
    with TestClient(create_app(settings, ingest=False)) as client:
        receiver = client.get("/data/receiver.json").json()

    assert (receiver["lat"], receiver["lon"]) == (51.4775, -0.4614)
    assert receiver["refresh"] == 1000  # never faster than once a second


TRACK = """
query ($icao24: String!) {
  track(icao24: $icao24) {
    points { time latitude longitude baroAltitudeM velocityMps trueTrackDeg verticalRateMps }
  }
}
"""


@pytest.mark.parametrize("kind", ["recent", "full"])
def test_a_trace_is_the_track_in_readsb_units(replay_world: ReplayWorld, kind: str) -> None:
    aircraft = replay_world.client.get("/data/aircraft.json").json()["aircraft"]
    code = next(ac["hex"] for ac in aircraft if ac.get("alt_baro", "ground") != "ground")
    points = replay_world.query(TRACK, icao24=code)["data"]["track"]["points"]

    response = replay_world.client.get(f"/data/traces/{code[-2:]}/trace_{kind}_{code}.json")

    assert response.status_code == 200
    trace = response.json()
    assert trace["icao"] == code
    assert len(trace["trace"]) == len(points) == 2
    for row, point in zip(trace["trace"], points, strict=True):
        assert len(row) == 14
        # tar1090 (normalizeTraceStamps) adds the timestamp to each row's offset.
        assert trace["timestamp"] + row[0] == pytest.approx(_epoch(point["time"]), abs=0.006)
        assert (row[1], row[2]) == (point["latitude"], point["longitude"])
        assert row[3] == round(point["baroAltitudeM"] * FT_PER_M)
        assert row[4] == round(point["velocityMps"] * KT_PER_MPS, 1)
        assert row[5] == round(point["trueTrackDeg"], 1)
        assert row[7] == round(point["verticalRateMps"] * FPM_PER_MPS)
    assert trace["trace"][0][0] == 0
    assert isinstance(trace["trace"][0][8], dict)  # the details of the first point


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_trace_flags_details_and_spans(hand_made: TestClient) -> None:
    full = hand_made.get("/data/traces/23/trace_full_abc123.json").json()
    recent = hand_made.get("/data/traces/23/trace_recent_abc123.json").json()

    assert [row[0] for row in full["trace"]] == [0, 3600, 3610, 3670, 3680]
    # 1: after a gap of more than 20 s; 2: airborne after the ground; 8: geometric altitude
    assert [row[6] for row in full["trace"]] == [0, 1, 2, 1, 8]
    assert [row[3] for row in full["trace"]] == [32808, "ground", 32808, 32808, 3281]
    # The full aircraft object on the first row, then whenever who it is changes.
    assert [row[8] for row in full["trace"]] == [
        {"flight": "EZY12   ", "track": 90.0, "baro_rate": 0},
        None,
        None,
        None,
        {"flight": "EZY34   ", "alt_geom": 3281, "track": 90.0, "baro_rate": -1000}
        | {"squawk": "7700", "category": "A5"},
    ]
    # The last 10 minutes: the same points, timed from the first of them.
    assert recent["timestamp"] == full["timestamp"] + 3600
    assert [row[0] for row in recent["trace"]] == [0, 10, 70, 80]
    assert [row[1:3] for row in recent["trace"]] == [row[1:3] for row in full["trace"][1:]]
    assert [row[6] for row in recent["trace"]] == [0, 2, 1, 8]


def test_a_non_icao_trace_uses_the_tilde_and_the_last_two_digits(hand_made: TestClient) -> None:
    response = hand_made.get("/data/traces/24/trace_full_~abc124.json")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.json()["icao"] == "~abc124"
    assert response.json()["trace"][0][3] == "ground"


@pytest.mark.parametrize(
    "path",
    [
        "/data/traces/00/trace_full_abc123.json",  # not the folder of abc123
        "/data/traces/ef/trace_full_abcdef.json",  # never seen
        "/data/traces/23/trace_today_abc123.json",
        "/data/traces/23/trace_full_abc123.json.gz",
    ],
)
def test_a_trace_that_does_not_exist_is_a_404(hand_made: TestClient, path: str) -> None:
    response = hand_made.get(path)

    assert response.status_code == 404
    assert "error" in response.json()


def test_aircraft_json_is_built_at_most_once_a_second_like_readsb_writes_it(
    replay_world: ReplayWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    flights = replay_world.runtime.stores.flights
    reads = []
    read_all = flights.all_latest

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return read_all(*args, **kwargs)

    monkeypatch.setattr(flights, "all_latest", counted)
    time.sleep(1.05)  # past any body an earlier test had built
    first = replay_world.client.get("/data/aircraft.json")
    again = replay_world.client.get("/data/aircraft.json")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert len(reads) == 1
