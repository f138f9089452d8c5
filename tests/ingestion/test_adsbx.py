"""The ADS-B Exchange v2 family: the pure normaliser on a recorded adsb.lol response and on
hand-made aircraft, the URL and auth helpers, and the fetch over an in-process transport."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from domain import FlightState, PositionSource, Source
from ingestion.adsbx import (
    AdsbxSource,
    auth_headers,
    build_url,
    fetch_aircraft,
    normalise_v2,
)
from ingestion.batch import Candidate, Normalised
from ingestion.errors import UpstreamError
from ingestion.sources import parse_json
from ingestion.validate import validate

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ADSBLOL = FIXTURES / "adsblol_v2_point_716ac.json"
# The sample's "now": 1785336058500 ms.
NOW = datetime(2026, 7, 29, 14, 40, 58, 500_000, tzinfo=UTC)
NOW_MS = 1_785_336_058_500
ADSBX_RAPIDAPI = "adsbexchange-com1.p.rapidapi.com"


def at(seconds: float, micros: int = 0) -> datetime:
    """A time on the sample's minute, 14:40."""
    return datetime(2026, 7, 29, 14, 40, int(seconds), micros, tzinfo=UTC)


@pytest.fixture(scope="module")
def adsblol() -> Any:
    return orjson.loads(ADSBLOL.read_bytes())


@pytest.fixture(scope="module")
def normalised(adsblol: Any) -> Normalised:
    return normalise_v2(adsblol)


@pytest.fixture(scope="module")
def states(normalised: Normalised) -> dict[str, FlightState]:
    valid, rejects = validate(normalised.candidates, observed_at=normalised.observed_at)
    assert rejects == []
    return {state.icao24: state for state in valid}


def candidate(normalised: Normalised, code: str) -> Candidate:
    (found,) = [c for c in normalised.candidates if c.raw["hex"] == code]
    return found


def one(aircraft: dict[str, Any], now_ms: int = NOW_MS) -> Normalised:
    return normalise_v2({"ac": [aircraft], "now": now_ms})


def valid_one(aircraft: dict[str, Any]) -> FlightState:
    result = one(aircraft)
    states, rejects = validate(result.candidates, observed_at=result.observed_at)
    assert rejects == []
    return states[0]


# --- the recorded adsb.lol /v2/point response -------------------------------------------


def test_every_aircraft_of_the_sample_is_a_candidate(normalised: Normalised) -> None:
    assert len(normalised.candidates) == 716
    assert normalised.rejects == []
    assert normalised.observed_at == NOW
    assert {c.fields["source"] for c in normalised.candidates} == {Source.ADSBX}


def test_every_aircraft_of_the_sample_validates(
    normalised: Normalised, states: dict[str, FlightState]
) -> None:
    # The oldest position is 58.8 s before "now", well inside the 300 s limit, and every
    # value is in range, so nothing is rejected when judged against the sample's own time.
    assert len(states) == 716
    assert all(s.has_position for s in states.values())
    assert max(c.raw["seen_pos"] for c in normalised.candidates) == 58.754


def test_judged_against_today_every_position_is_stale(normalised: Normalised) -> None:
    valid, rejects = validate(normalised.candidates)
    assert valid == []
    assert Counter(r.reason for r in rejects) == {"stale_position": 716}


def test_ground_is_on_ground_without_a_baro_altitude(states: dict[str, FlightState]) -> None:
    on_ground = [s for s in states.values() if s.on_ground]
    assert len(on_ground) == 116
    assert all(s.baro_altitude_m is None for s in on_ground)
    # The one other state without a baro altitude sent no alt_baro at all (a T-38).
    no_baro = {s.icao24 for s in states.values() if s.baro_altitude_m is None and not s.on_ground}
    assert no_baro == {"ae63f1"}


def test_units_are_converted_to_si(normalised: Normalised, states: dict[str, FlightState]) -> None:
    # AAL977: alt_baro 28400 ft, alt_geom 29350 ft, gs 439.0 kt, baro_rate 832 ft/min,
    # seen_pos 0.200 s, seen 0.0 s.
    raw = candidate(normalised, "a03fff").raw
    assert (raw["alt_baro"], raw["alt_geom"], raw["gs"], raw["baro_rate"]) == (
        28400,
        29350,
        439.0,
        832,
    )
    state = states["a03fff"]
    assert state.baro_altitude_m == pytest.approx(8656.32)
    assert state.geo_altitude_m == pytest.approx(8945.88)
    assert state.velocity_mps == pytest.approx(225.840916, rel=1e-6)
    assert state.vertical_rate_mps == pytest.approx(4.22656)
    assert state.true_track_deg == 266.08
    assert state.callsign == "AAL977"
    assert state.squawk == "2236"
    assert state.category == 4  # A3, Large
    assert state.position_source is PositionSource.ADSB
    assert (state.latitude, state.longitude) == (39.869568, -78.968413)
    assert state.time_position == at(58, 300_000)
    assert state.last_contact == NOW
    assert state.origin_country is None
    assert state.on_ground is False
    assert state.spi is False


def test_seen_pos_and_seen_are_seconds_before_now(states: dict[str, FlightState]) -> None:
    # POD6: seen_pos 17.610 s, seen 1.7 s; it sent geom_rate -1600 ft/min but no baro_rate.
    state = states["a95128"]
    assert state.time_position == at(40, 890_000)
    assert state.last_contact == at(56, 800_000)
    assert state.vertical_rate_mps == pytest.approx(-8.128)
    assert state.velocity_mps == pytest.approx(489.5 * 0.514444, rel=1e-6)


def test_calc_track_stands_in_for_a_missing_track(states: dict[str, FlightState]) -> None:
    assert states["a5376f"].true_track_deg == 269  # GPD435: calc_track 269, no track
    assert states["a5376f"].velocity_mps is None


def test_tilde_hex_is_kept_and_marked_non_icao(
    normalised: Normalised, states: dict[str, FlightState]
) -> None:
    found = candidate(normalised, "~27a902")
    assert found.fields["icao24"] == "~27a902"
    assert found.fields["non_icao"] is True
    assert found.raw["type"] == "tisb_trackfile"
    state = states["27a902"]
    assert state.non_icao is True
    assert state.position_source is None  # TIS-B
    assert state.time_position == at(31, 444_000)  # seen_pos 27.056
    assert state.vertical_rate_mps == pytest.approx(704 * 0.00508)
    assert sorted(s.icao24 for s in states.values() if s.non_icao) == [
        "279b9b", "27a348", "27a56d", "27a902", "2ace48", "2acf1f", "2acf23", "2acf2f",
    ]  # fmt: skip


def test_message_source_becomes_position_source(
    adsblol: Any, states: dict[str, FlightState]
) -> None:
    assert Counter(a["type"] for a in adsblol["ac"]) == {
        "adsb_icao": 682,
        "adsr_icao": 16,
        "mlat": 9,
        "tisb_trackfile": 5,
        "tisb_other": 3,
        "tisb_icao": 1,
    }
    assert Counter(s.position_source for s in states.values()) == {
        PositionSource.ADSB: 698,
        PositionSource.MLAT: 9,
        None: 9,
    }
    assert states["ae749d"].position_source is PositionSource.MLAT


def test_emitter_categories_of_the_sample(states: dict[str, FlightState]) -> None:
    assert Counter(s.category for s in states.values()) == {
        4: 301,  # A3
        2: 195,  # A1
        3: 132,  # A2
        6: 31,  # A5
        8: 24,  # A7
        None: 19,  # no category sent
        5: 6,  # A4
        17: 5,  # C2
        7: 2,  # A6
        1: 1,  # A0
    }


def test_raw_is_the_aircraft_object_as_received(adsblol: Any, normalised: Normalised) -> None:
    assert [c.raw for c in normalised.candidates] == adsblol["ac"]
    assert normalised.candidates[0].raw is adsblol["ac"][0]


# --- hand-made aircraft -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("A0", 1), ("A1", 2), ("A2", 3), ("A3", 4), ("A4", 5), ("A5", 6), ("A6", 7), ("A7", 8),
        ("B0", 1), ("B1", 9), ("B2", 10), ("B3", 11), ("B4", 12), ("B5", 13), ("B6", 14),
        ("B7", 15), ("C0", 1), ("C1", 16), ("C2", 17), ("C3", 18), ("C4", 19), ("C5", 20),
        ("C6", None), ("C7", None), ("D0", None), ("D7", None), ("a3", None), ("", None),
        (None, None), (3, None), (["A3"], None),
    ],
)  # fmt: skip
def test_emitter_category_maps_to_opensky_codes(code: Any, expected: int | None) -> None:
    assert one({"hex": "abc123", "category": code}).candidates[0].fields["category"] == expected


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("adsb_icao", PositionSource.ADSB), ("adsb_icao_nt", PositionSource.ADSB),
        ("adsb_other", PositionSource.ADSB), ("adsr_icao", PositionSource.ADSB),
        ("adsr_other", PositionSource.ADSB), ("adsc", PositionSource.ADSB),
        ("adsb_future", PositionSource.ADSB), ("mlat", PositionSource.MLAT),
        ("tisb_icao", None), ("tisb_other", None), ("tisb_trackfile", None), ("mode_s", None),
        ("other", None), ("unknown", None), (7, None), ([], None),
    ],
)  # fmt: skip
def test_message_type_maps_to_position_source(kind: Any, expected: PositionSource | None) -> None:
    aircraft = {"hex": "abc123", "type": kind, "lat": 1.0, "lon": 2.0, "seen_pos": 0.5}
    assert one(aircraft).candidates[0].fields["position_source"] == expected


def test_last_position_stands_in_for_a_missing_position() -> None:
    # No recorded sample holds one: readsb sends it once the position is over 60 s old.
    state = valid_one(
        {
            "hex": "4ca7b5",
            "seen": 2.5,
            "lastPosition": {"lat": 53.42, "lon": -6.27, "nic": 8, "rc": 186, "seen_pos": 75.2},
        }
    )
    assert (state.latitude, state.longitude) == (53.42, -6.27)
    assert state.time_position == NOW - timedelta(seconds=75.2)  # its own seen_pos
    assert state.last_contact == at(56)


def test_last_position_is_ignored_when_there_is_a_current_one() -> None:
    state = valid_one(
        {
            "hex": "4ca7b5",
            "lat": 53.5,
            "lon": -6.2,
            "seen_pos": 1.5,
            "lastPosition": {"lat": 53.42, "lon": -6.27, "seen_pos": 75.2},
        }
    )
    assert (state.latitude, state.longitude, state.time_position) == (53.5, -6.2, at(57))


def test_an_aircraft_with_only_a_hex() -> None:
    state = valid_one({"hex": "4ca7b5"})
    assert state.time_position is None
    assert state.last_contact == NOW  # no "seen": as of the snapshot
    assert not state.has_position
    assert state.position_source is None
    assert (state.baro_altitude_m, state.velocity_mps, state.category) == (None, None, None)


def test_a_position_without_seen_pos_has_no_position_time() -> None:
    state = valid_one({"hex": "4ca7b5", "lat": 53.5, "lon": -6.2, "seen": 3.0})
    assert state.time_position is None
    assert state.time == state.last_contact == at(55, 500_000)


def test_baro_rate_wins_over_geom_rate_and_track_over_calc_track() -> None:
    state = valid_one(
        {"hex": "4ca7b5", "baro_rate": -640, "geom_rate": 64, "track": 90.5, "calc_track": 91}
    )
    assert state.vertical_rate_mps == pytest.approx(-3.2512)
    assert state.true_track_deg == 90.5


def test_flight_is_trimmed_and_spi_is_a_flag() -> None:
    fields = one({"hex": "4ca7b5", "flight": "RYR5RX  ", "spi": 1}).candidates[0].fields
    assert (fields["callsign"], fields["spi"]) == ("RYR5RX", True)
    assert one({"hex": "4ca7b5", "flight": "        "}).candidates[0].fields["callsign"] is None


@pytest.mark.parametrize("entry", ["a3c9b4", None, 42, [], {}, {"hex": None}, {"flight": "X"}])
def test_an_entry_that_is_not_an_aircraft_is_a_malformed_row(entry: Any) -> None:
    result = normalise_v2({"ac": [entry, {"hex": "abc123"}], "now": NOW_MS})
    assert [c.raw for c in result.candidates] == [{"hex": "abc123"}]
    assert [(r.reason, r.raw) for r in result.rejects] == [("malformed_row", entry)]


@pytest.mark.parametrize(
    ("aircraft", "reason"),
    [
        ({"hex": "xyz123"}, "invalid_icao24"),
        ({"hex": 123456}, "invalid_icao24"),
        ({"hex": "abc123", "lat": 95.0, "lon": 0.0, "seen_pos": 1.0}, "invalid_coordinates"),
        ({"hex": "abc123", "alt_baro": 99_999}, "implausible_altitude"),  # 30,480 m
        ({"hex": "abc123", "alt_baro": "high"}, "implausible_altitude"),
        ({"hex": "abc123", "gs": "fast"}, "implausible_speed"),
        ({"hex": "abc123", "gs": 1500}, "implausible_speed"),  # 772 m/s
        ({"hex": "abc123", "baro_rate": 40_000}, "implausible_vertical_rate"),  # 203 m/s
        ({"hex": "abc123", "seen": "recently"}, "invalid_time"),
        ({"hex": "abc123", "lat": 1.0, "lon": 2.0, "seen_pos": 900.0}, "stale_position"),
    ],
)
def test_bad_values_reach_validation_and_are_rejected_with_a_reason(
    aircraft: dict[str, Any], reason: str
) -> None:
    result = one(aircraft)
    states, rejects = validate(result.candidates, observed_at=result.observed_at)
    assert states == []
    assert [(r.reason, r.raw) for r in rejects] == [(reason, aircraft)]


WEIRD: list[Any] = [None, "", "ground", "x", [], {}, [1, 2], True, -1, 0, 1e308, float("nan")]
KEYS = [
    "hex", "flight", "alt_baro", "alt_geom", "gs", "track", "calc_track", "baro_rate",
    "geom_rate", "squawk", "category", "spi", "lat", "lon", "seen_pos", "seen", "type",
    "mlat", "tisb", "lastPosition",
]  # fmt: skip


@pytest.mark.parametrize("key", KEYS)
def test_no_value_of_any_field_breaks_the_batch(key: str) -> None:
    base = {"hex": "abc123", "lat": 1.0, "lon": 2.0, "seen_pos": 1.0, "seen": 1.0}
    rows = [{**base, key: value} for value in WEIRD]
    result = normalise_v2({"ac": rows, "now": NOW_MS})
    states, rejects = validate(result.candidates, observed_at=result.observed_at)
    assert len(result.candidates) + len(result.rejects) == len(WEIRD)
    assert len(states) + len(rejects) == len(result.candidates)


# --- the envelope -------------------------------------------------------------------------


def test_mirrors_sending_aircraft_instead_of_ac_are_read() -> None:
    result = normalise_v2({"aircraft": [{"hex": "abc123"}], "now": NOW_MS})
    assert [c.fields["icao24"] for c in result.candidates] == ["abc123"]


def test_now_in_seconds_is_recognised() -> None:
    result = normalise_v2({"aircraft": [{"hex": "abc123", "seen": 1.5}], "now": NOW_MS / 1000})
    assert result.observed_at == NOW
    assert result.candidates[0].fields["last_contact"] == at(57)


def test_null_ac_is_an_empty_snapshot() -> None:
    result = normalise_v2({"ac": None, "msg": "No error", "now": NOW_MS, "total": 0})
    assert (result.candidates, result.rejects, result.observed_at) == ([], [], NOW)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "not an ADS-B v2 response: a list"),
        ("No error", "not an ADS-B v2 response: a str"),
        ({"msg": "No error", "now": NOW_MS}, "no 'ac' or 'aircraft' key"),
        ({"ac": {"hex": "abc123"}, "now": NOW_MS}, "'ac' is not a list"),
        ({"ac": []}, "'now' is not a unix time: None"),
        ({"ac": [], "now": "1785336058500"}, "'now' is not a unix time"),
        ({"ac": [], "now": True}, "'now' is not a unix time"),
        ({"ac": [], "now": -5}, "'now' is not a unix time"),
        ({"ac": [], "now": float("nan")}, "'now' is not a unix time"),
        ({"ac": [], "now": float("inf")}, "'now' is not a unix time"),
        ({"ac": [], "now": 1e300}, "'now' is not a unix time"),
    ],
)
def test_a_payload_that_is_not_a_v2_response_is_an_upstream_error(
    payload: Any, message: str
) -> None:
    with pytest.raises(UpstreamError, match=message):
        normalise_v2(payload)


# --- URLs and auth headers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        (
            "https://api.adsb.lol",
            "/v2/point/{lat}/{lon}/{radius}",
            "https://api.adsb.lol/v2/point/40.64/-73.78/250",
        ),
        ("https://api.airplanes.live/v2/", "/point/{lat}/{lon}/{radius}", None),
        (
            "https://adsbexchange-com1.p.rapidapi.com/v2",
            "/lat/{lat}/lon/{lon}/dist/{radius}/",
            "https://adsbexchange-com1.p.rapidapi.com/v2/lat/40.64/lon/-73.78/dist/250/",
        ),
        (
            "https://gateway.adsbexchange.com/api/aircraft",
            "/v2/all",
            "https://gateway.adsbexchange.com/api/aircraft/v2/all",
        ),
        ("http://127.0.0.1:8080", "v2/all", "http://127.0.0.1:8080/v2/all"),
    ],
)
def test_build_url_fills_the_path_template(base: str, path: str, expected: str | None) -> None:
    url = build_url(base, path, lat=40.64, lon=-73.78, radius=250)
    assert url == (expected or "https://api.airplanes.live/v2/point/40.64/-73.78/250")


def test_build_url_honours_a_format_spec_and_encodes_values() -> None:
    path = "/v2/point/{lat:.2f}/{lon:.2f}/{radius}"
    url = build_url("https://api.adsb.lol", path, lat=51.47, lon=-0.4543, radius=25)
    assert url == "https://api.adsb.lol/v2/point/51.47/-0.45/25"
    assert (
        build_url("https://api.adsb.lol", "/v2/callsign/{cs}", cs="A B/C")
        == "https://api.adsb.lol/v2/callsign/A%20B%2FC"
    )


@pytest.mark.parametrize(
    "params", [{}, {"lat": 1.0, "lon": 2.0}, {"lat": 1, "lon": 2, "radius": None}]
)
def test_build_url_names_a_missing_value(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"needs a value for \{(lat|radius)\}"):
        build_url("https://api.adsb.lol", "/v2/point/{lat}/{lon}/{radius}", **params)


@pytest.mark.parametrize(
    ("style", "key", "host", "expected"),
    [
        (None, None, None, {}),
        ("", "k", None, {}),
        ("none", None, None, {}),
        ("api-auth", "k1", None, {"api-auth": "k1"}),
        ("x-api-key", "k2", None, {"x-api-key": "k2"}),
        ("X-API-Key", "k2", None, {"x-api-key": "k2"}),
        ("rapidapi", "k3", None, {"X-RapidAPI-Key": "k3", "X-RapidAPI-Host": ADSBX_RAPIDAPI}),
        (
            "rapidapi",
            "k3",
            "x.p.rapidapi.com",
            {"X-RapidAPI-Key": "k3", "X-RapidAPI-Host": "x.p.rapidapi.com"},
        ),
    ],
)
def test_auth_header_styles(
    style: str | None, key: str | None, host: str | None, expected: dict[str, str]
) -> None:
    assert auth_headers(style, key, host) == expected


@pytest.mark.parametrize(
    ("style", "key", "message"),
    [
        ("bearer", "k", "unknown auth style 'bearer'"),
        ("api-auth", None, "needs an API key"),
        ("rapidapi", "", "needs an API key"),
    ],
)
def test_bad_auth_settings_are_refused(style: str, key: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        auth_headers(style, key)


# --- fetching over an in-process transport ------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


def refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected request to {request.url}")


def serve(handler: Handler, call: Callable[[httpx.AsyncClient], Any]) -> Any:
    async def go() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            result = call(client)
            return await result if asyncio.iscoroutine(result) else result

    return asyncio.run(go())


def test_fetch_returns_the_raw_body_and_sends_the_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=ADSBLOL.read_bytes())

    url = "https://api.adsb.lol/v2/point/40.64/-73.78/250"
    body = serve(handler, lambda c: fetch_aircraft(c, url, {"api-auth": "secret"}))
    assert body == ADSBLOL.read_bytes()
    assert str(seen[0].url) == url
    assert seen[0].headers["api-auth"] == "secret"


@pytest.mark.parametrize(
    ("status", "transient"), [(500, True), (503, True), (429, False), (402, False)]
)
def test_fetch_fails_on_an_http_error_keeping_the_status(status: int, transient: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="<html><body>error</body></html>")

    with pytest.raises(UpstreamError, match=f"answered HTTP {status}") as exc:
        serve(handler, lambda c: fetch_aircraft(c, "https://api.adsb.lol/v2/all", {}))
    assert (exc.value.status, exc.value.transient) == (status, transient)


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ReadTimeout])
def test_fetch_fails_when_the_request_does(error: type[httpx.TransportError]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("no answer", request=request)

    with pytest.raises(UpstreamError, match="failed") as exc:
        serve(handler, lambda c: fetch_aircraft(c, "https://api.adsb.lol/v2/all", {}))
    assert exc.value.transient is True
    assert isinstance(exc.value.__cause__, error)


def test_adsbx_source_fetches_the_body_for_normalising() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["x-api-key"] == "k"
        return httpx.Response(200, content=ADSBLOL.read_bytes())

    def make(client: httpx.AsyncClient) -> Any:
        source = AdsbxSource(
            client,
            "https://gateway.adsbexchange.com/api/aircraft",
            "/v2/lat/{lat}/lon/{lon}/dist/{radius}/",
            auth_headers("x-api-key", "k"),
            params={"lat": 40.64, "lon": -73.78, "radius": 250},
        )
        assert source.name == "adsbx"
        assert source.url.endswith("/v2/lat/40.64/lon/-73.78/dist/250/")
        return source.fetch()

    body = serve(handler, make)
    assert body == ADSBLOL.read_bytes()
    result = AdsbxSource.normalise(parse_json(body))
    assert len(result.candidates) == 716
    assert {c.fields["source"] for c in result.candidates} == {Source.ADSBX}


def test_adsbx_source_refuses_an_unfilled_template_at_construction() -> None:
    with pytest.raises(ValueError, match=r"needs a value for \{lat\}"):
        serve(refuse, lambda c: AdsbxSource(c, "https://api.adsb.lol", "/v2/point/{lat}/{lon}", {}))


@pytest.mark.parametrize(
    "body",
    [
        b"<html><head><title>502 Bad Gateway</title></head></html>",
        ADSBLOL.read_bytes()[:50_000],  # cut off mid-response
        b"",
    ],
    ids=["html-error-page", "truncated-json", "empty"],
)
def test_a_body_that_is_not_json_is_an_upstream_error(body: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    fetched = serve(
        handler, lambda c: AdsbxSource(c, "https://api.adsb.lol", "/v2/all", {}).fetch()
    )
    with pytest.raises(UpstreamError, match="response is not JSON"):
        parse_json(fetched)
