"""A local receiver's ``aircraft.json``: the normaliser on three recorded files (readsb,
dump1090-fa 3.x, legacy dump1090), and the source reading a file or a URL."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from domain import FlightState, PositionSource, Source
from ingestion.batch import Normalised
from ingestion.errors import UpstreamError
from ingestion.receiver import ReceiverSource, normalise_aircraft_json
from ingestion.sources import parse_json
from ingestion.validate import validate

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
READSB = FIXTURES / "readsb_aircraft_plord12_london.json"
DUMP1090FA = FIXTURES / "dump1090fa_aircraft_kdriver_2018.json"
LEGACY = FIXTURES / "dump1090_aircraft_legacy_altitude_field_esin.json"
READSB_NOW = datetime(2026, 7, 29, 18, 28, 41, 500_000, tzinfo=UTC)
DUMP1090FA_NOW = datetime(2018, 7, 30, 22, 18, 25, 100_000, tzinfo=UTC)
ADSB = PositionSource.ADSB
LEGACY_NOW = datetime(2023, 10, 31, 11, 23, 24, 700_000, tzinfo=UTC)


def load(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def valid_states(result: Normalised) -> dict[str, FlightState]:
    states, rejects = validate(result.candidates, observed_at=result.observed_at)
    assert rejects == []
    return {state.icao24: state for state in states}


def states_of(path: Path) -> dict[str, FlightState]:
    return valid_states(normalise_aircraft_json(load(path)))


def one(aircraft: dict[str, Any]) -> FlightState:
    (state,) = valid_states(
        normalise_aircraft_json({"now": 1785349721.5, "aircraft": [aircraft]})
    ).values()
    return state


@pytest.mark.parametrize(
    ("path", "observed_at", "total", "with_position", "sources"),
    [
        (READSB, READSB_NOW, 44, 25, {ADSB: 25, None: 19}),
        (DUMP1090FA, DUMP1090FA_NOW, 48, 34, {ADSB: 32, PositionSource.MLAT: 2, None: 14}),
        (LEGACY, LEGACY_NOW, 4, 0, {None: 4}),
    ],
)
def test_every_aircraft_of_each_sample_validates(
    path: Path,
    observed_at: datetime,
    total: int,
    with_position: int,
    sources: dict[PositionSource | None, int],
) -> None:
    result = normalise_aircraft_json(load(path))
    assert result.observed_at == observed_at
    assert (len(result.candidates), result.rejects) == (total, [])
    assert {c.fields["source"] for c in result.candidates} == {Source.RECEIVER}
    states = valid_states(result)
    assert len(states) == total
    assert sum(s.has_position for s in states.values()) == with_position
    assert Counter(s.position_source for s in states.values()) == sources
    assert not any(s.on_ground or s.non_icao for s in states.values())


def test_readsb_units_are_converted_to_si() -> None:
    # EZY47VH: alt_baro 7425 ft, alt_geom 7850 ft, gs 233.0 kt, baro_rate 3008 ft/min,
    # seen_pos 37.0 s, seen 29.1 s before now (18:28:41.5).
    state = states_of(READSB)["407f5f"]
    assert state.baro_altitude_m == pytest.approx(2263.14)
    assert state.geo_altitude_m == pytest.approx(2392.68)
    assert state.velocity_mps == pytest.approx(119.865452, rel=1e-6)
    assert state.vertical_rate_mps == pytest.approx(15.28064)
    assert state.true_track_deg == 185.4
    assert state.time_position == datetime(2026, 7, 29, 18, 28, 4, 500_000, tzinfo=UTC)
    assert state.last_contact == datetime(2026, 7, 29, 18, 28, 12, 400_000, tzinfo=UTC)
    assert (state.callsign, state.squawk, state.category) == ("EZY47VH", "2016", 4)
    assert (state.latitude, state.longitude) == (51.093796, -0.419039)
    assert state.position_source is PositionSource.ADSB


def test_dump1090fa_units_are_converted_to_si() -> None:
    # EZY82NU: alt_baro 19150 ft, alt_geom 19800 ft, gs 459.3 kt, baro_rate 1600 ft/min,
    # seen_pos 0.4 s, seen 0.1 s before now (22:18:25.1).
    state = states_of(DUMP1090FA)["4073a1"]
    assert state.baro_altitude_m == pytest.approx(5836.92)
    assert state.geo_altitude_m == pytest.approx(6035.04)
    assert state.velocity_mps == pytest.approx(236.2841292, rel=1e-6)
    assert state.vertical_rate_mps == pytest.approx(8.128)
    assert state.time_position == datetime(2018, 7, 30, 22, 18, 24, 700_000, tzinfo=UTC)
    assert state.last_contact == datetime(2018, 7, 30, 22, 18, 25, tzinfo=UTC)
    assert (state.callsign, state.squawk, state.category) == ("EZY82NU", "7625", 4)


def test_dump1090fa_mlat_positions_are_marked_mlat() -> None:
    # dump1090-fa 3.x sends no "type"; BEE173U lists "lat" and "lon" among its MLAT fields.
    states = states_of(DUMP1090FA)
    assert {k for k, s in states.items() if s.position_source is PositionSource.MLAT} == {
        "405b8c",
        "40078a",
    }
    assert states["405b8c"].callsign == "BEE173U"
    # 4cabbc lists only nac_v as MLAT-derived and has no position: no position source.
    assert states["4cabbc"].position_source is None


def test_legacy_altitude_field() -> None:
    states = states_of(LEGACY)
    state = states["151ec2"]  # "altitude": 2975 ft
    assert state.baro_altitude_m == pytest.approx(906.78)
    assert (state.callsign, state.squawk, state.category) == ("SBI1010", "0726", 4)
    assert state.time_position is None
    assert state.last_contact == LEGACY_NOW  # seen 0.0
    assert states["152058"].last_contact == LEGACY_NOW - timedelta(seconds=278.2)
    assert states["152058"].baro_altitude_m is None


def test_legacy_names_read_as_the_current_ones() -> None:
    state = one({"hex": "4ca7b5", "altitude": "ground", "speed": 10.0, "vert_rate": -640})
    assert state.on_ground is True
    assert state.baro_altitude_m is None
    assert state.velocity_mps == pytest.approx(5.14444, rel=1e-6)
    assert state.vertical_rate_mps == pytest.approx(-3.2512)


def test_the_current_name_wins_over_the_legacy_one() -> None:
    state = one({"hex": "4ca7b5", "alt_baro": 1000, "altitude": 2000, "gs": 100, "speed": 200})
    assert state.baro_altitude_m == pytest.approx(304.8)
    assert state.velocity_mps == pytest.approx(51.4444, rel=1e-6)


def test_raw_is_the_aircraft_object_as_received() -> None:
    aircraft = {"hex": "4ca7b5", "altitude": 2000}
    result = normalise_aircraft_json({"now": 1785349721.5, "aircraft": [aircraft]})
    assert result.candidates[0].raw is aircraft
    assert "alt_baro" not in aircraft


@pytest.mark.parametrize(
    ("derived", "expected"),
    [
        ({"mlat": ["lat", "lon"], "tisb": []}, PositionSource.MLAT),
        ({"mlat": [], "tisb": ["lat", "lon"]}, None),
        ({"mlat": ["gs"], "tisb": ["track"]}, PositionSource.ADSB),
        ({}, PositionSource.ADSB),
        ({"mlat": "lat"}, PositionSource.ADSB),
    ],
)
def test_without_type_the_position_source_comes_from_the_derived_lists(
    derived: dict[str, Any], expected: PositionSource | None
) -> None:
    aircraft = {"hex": "4ca7b5", "lat": 51.5, "lon": -0.1, "seen_pos": 1.0, **derived}
    assert one(aircraft).position_source == expected


def test_a_malformed_entry_is_rejected_and_the_rest_kept() -> None:
    result = normalise_aircraft_json(
        {"now": 1785349721.5, "aircraft": [["4ca7b5"], {"hex": "4ca7b5"}]}
    )
    assert [(r.reason, r.raw) for r in result.rejects] == [("malformed_row", ["4ca7b5"])]
    assert len(result.candidates) == 1


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "no 'aircraft' key"),
        ({"now": 1785349721.5, "messages": 1}, "no 'aircraft' key"),
        ({"now": 1785349721.5, "aircraft": {"hex": "4ca7b5"}}, "'aircraft' is not a list"),
        ({"aircraft": []}, "'now' is not a unix time"),
    ],
)
def test_a_document_that_is_not_aircraft_json_is_an_upstream_error(
    payload: Any, message: str
) -> None:
    with pytest.raises(UpstreamError, match=message):
        normalise_aircraft_json(payload)


def test_an_empty_receiver() -> None:
    result = normalise_aircraft_json({"now": 1785349721.5, "messages": 0, "aircraft": []})
    assert (result.candidates, result.rejects, result.observed_at) == ([], [], READSB_NOW)


# --- the source ---------------------------------------------------------------------------


def fetch(source_of: Any, handler: Any = None) -> bytes:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request to {request.url}")

    async def go() -> bytes:
        transport = httpx.MockTransport(handler or refuse)
        async with httpx.AsyncClient(transport=transport) as client:
            body: bytes = await source_of(client).fetch()
            return body

    return asyncio.run(go())


def test_receiver_source_reads_a_local_file(tmp_path: Path) -> None:
    path = tmp_path / "aircraft.json"
    path.write_bytes(READSB.read_bytes())
    body = fetch(lambda c: ReceiverSource(c, path))
    assert body == READSB.read_bytes()
    assert len(ReceiverSource.normalise(parse_json(body)).candidates) == 44
    body = fetch(lambda c: ReceiverSource(c, str(path)))
    assert body == READSB.read_bytes()


def test_receiver_source_reads_a_url() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=DUMP1090FA.read_bytes())

    url = "http://192.168.1.20:8080/data/aircraft.json"
    body = fetch(lambda c: ReceiverSource(c, url), handler)
    assert seen == [url]
    result = ReceiverSource.normalise(parse_json(body))
    assert len(result.candidates) == 48
    assert {c.fields["source"] for c in result.candidates} == {Source.RECEIVER}


def test_receiver_source_name() -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    assert ReceiverSource(client, "/run/readsb/aircraft.json").name == "receiver"


def test_a_missing_file_is_an_upstream_error(tmp_path: Path) -> None:
    with pytest.raises(UpstreamError, match=r"cannot read .*aircraft\.json"):
        fetch(lambda c: ReceiverSource(c, tmp_path / "aircraft.json"))


@pytest.mark.parametrize(("status", "transient"), [(500, True), (404, False)])
def test_an_http_error_is_an_upstream_error(status: int, transient: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="<html>tar1090: not found</html>")

    with pytest.raises(UpstreamError, match=f"answered HTTP {status}") as exc:
        fetch(lambda c: ReceiverSource(c, "http://localhost/data/aircraft.json"), handler)
    assert (exc.value.status, exc.value.transient) == (status, transient)


@pytest.mark.parametrize(
    "body",
    [b"<html><body>502 Bad Gateway</body></html>", DUMP1090FA.read_bytes()[:1000]],
    ids=["html-error-page", "truncated-json"],
)
def test_a_body_that_is_not_json_is_an_upstream_error(body: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    fetched = fetch(lambda c: ReceiverSource(c, "https://rx.example/data/aircraft.json"), handler)
    with pytest.raises(UpstreamError, match="response is not JSON"):
        parse_json(fetched)
