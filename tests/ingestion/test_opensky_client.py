"""``OpenSkyClient`` and ``OpenSkySource`` against the fake upstream over loopback HTTP:
query parameters, the three kinds of authentication, credits, 429 back-off and every
fault the fake server can inject. No httpx mocks."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from config import ConfigError, Settings
from domain.events import InProcessBus, RateLimitExceeded
from ingestion.errors import UpstreamError
from ingestion.opensky import (
    BBox,
    OpenSkyClient,
    OpenSkyConfig,
    OpenSkySource,
    config_from_settings,
    credits_cost,
)
from ingestion.opensky_auth import TokenManager
from ingestion.sources import parse_json
from upstream import (
    CLIENT_ID,
    CLIENT_SECRET,
    FIXTURES,
    OPENSKY_PATH,
    TOKEN_PATH,
    FakeUpstream,
    error,
    html_page,
    null_states,
    rate_limited,
    reset,
    timeout,
    truncated,
)

SMALL = (FIXTURES / "opensky_states_small_4_18field.json").read_bytes()
ALPS: BBox = (45.8, 5.9, 47.8, 10.5)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordingSleep:
    calls: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@dataclass
class Run:
    """What a sequence of ``states()`` calls did: the client, and a body or an error each."""

    client: OpenSkyClient
    results: list[bytes | UpstreamError]

    @property
    def error(self) -> UpstreamError:
        [result] = self.results
        assert isinstance(result, UpstreamError), result
        return result

    @property
    def body(self) -> bytes:
        [result] = self.results
        assert isinstance(result, bytes), result
        return result


def oauth(upstream: FakeUpstream, **fields: Any) -> OpenSkyConfig:
    values: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "auth_url": f"{upstream.url}{TOKEN_PATH}",
    }
    return OpenSkyConfig(**(values | fields))


def run(
    upstream: FakeUpstream,
    config: OpenSkyConfig | None = None,
    *,
    calls: int = 1,
    timeout_s: float = 2.0,
    between: Any = None,
    **kwargs: Any,
) -> Run:
    """``calls`` calls of ``states()`` on one client; ``between(i)`` runs before call i."""

    async def go() -> Run:
        async with httpx.AsyncClient(timeout=timeout_s) as http:
            client = OpenSkyClient(http, f"{upstream.url}/api", config, **kwargs)
            results: list[bytes | UpstreamError] = []
            for i in range(calls):
                if between is not None:
                    between(i)
                try:
                    results.append(await client.states())
                except UpstreamError as exc:
                    results.append(exc)
            return Run(client, results)

    return asyncio.run(go())


def auth_headers(upstream: FakeUpstream) -> list[str | None]:
    return [r.headers.get("authorization") for r in upstream.requests_to(OPENSKY_PATH)]


# -- parameters and credits ---------------------------------------------------------------


def test_anonymous_request_has_no_auth_and_asks_for_extended_rows(
    fake_upstream: FakeUpstream,
) -> None:
    result = run(fake_upstream)
    assert result.body == SMALL
    [request] = fake_upstream.requests
    assert request.path == OPENSKY_PATH
    assert "authorization" not in request.headers
    assert request.params == [("extended", "1")]


def test_bbox_sends_all_four_edges(fake_upstream: FakeUpstream) -> None:
    run(fake_upstream, OpenSkyConfig(bbox=ALPS))
    [request] = fake_upstream.requests
    assert request.params == [
        ("lamin", "45.8"), ("lomin", "5.9"), ("lamax", "47.8"), ("lomax", "10.5"),
        ("extended", "1"),
    ]  # fmt: skip


def test_icao24_filter_is_repeated_and_lowercase(fake_upstream: FakeUpstream) -> None:
    config = config_from_settings(SimpleNamespace(opensky_icao24="3C6444, 4b1814"))
    run(fake_upstream, config)
    [request] = fake_upstream.requests
    assert request.param("icao24") == ["3c6444", "4b1814"]


def test_extended_can_be_turned_off(fake_upstream: FakeUpstream) -> None:
    run(fake_upstream, OpenSkyConfig(extended=False))
    assert fake_upstream.requests[0].params == []


@pytest.mark.parametrize(
    ("bbox", "cost"),
    [
        ((45.8, 5.9, 47.8, 10.5), 1),  # 9.2 sq°
        ((0.0, 0.0, 5.0, 5.0), 1),  # 25: the top of the first tier
        ((0.0, 0.0, 5.0, 5.2), 2),
        ((0.0, 0.0, 10.0, 10.0), 2),
        ((0.0, 0.0, 10.0, 10.5), 3),
        ((0.0, 0.0, 20.0, 20.0), 3),
        ((0.0, 0.0, 20.0, 20.1), 4),
        ((-90.0, -180.0, 90.0, 180.0), 4),
        (None, 4),  # global
    ],
)
def test_credit_cost_follows_the_bbox_area_tiers(bbox: BBox | None, cost: int) -> None:
    assert credits_cost(bbox) == cost


def test_credits_used_and_remaining_are_tracked(fake_upstream: FakeUpstream) -> None:
    fake_upstream.serve(OPENSKY_PATH, SMALL, headers={"X-Rate-Limit-Remaining": "3996"})
    result = run(fake_upstream, OpenSkyConfig(bbox=(0.0, 0.0, 10.0, 10.0)), calls=2)
    assert result.client.credits_cost == 2
    assert result.client.credits_used == 4
    assert result.client.credits_remaining == 3996


def test_low_credits_are_logged(
    fake_upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    fake_upstream.serve(OPENSKY_PATH, SMALL, headers={"X-Rate-Limit-Remaining": "42"})
    with caplog.at_level(logging.WARNING, logger="ingestion.opensky"):
        result = run(fake_upstream)
    assert result.client.credits_remaining == 42
    assert "42 API credits remaining" in caplog.text


@pytest.mark.parametrize("header", ["lots", "-5", "nan", ""])
def test_a_garbled_remaining_header_is_ignored(fake_upstream: FakeUpstream, header: str) -> None:
    fake_upstream.serve(OPENSKY_PATH, SMALL, headers={"X-Rate-Limit-Remaining": header})
    result = run(fake_upstream)
    assert result.body == SMALL
    assert result.client.credits_remaining == (0 if header == "-5" else None)


# -- OAuth2 client credentials ------------------------------------------------------------


def test_token_is_fetched_once_and_reused(fake_upstream: FakeUpstream) -> None:
    result = run(fake_upstream, oauth(fake_upstream), calls=2)
    assert result.results == [SMALL, SMALL]
    [token_request] = fake_upstream.requests_to(TOKEN_PATH)
    assert token_request.method == "POST"
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_request.body.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
    }
    assert auth_headers(fake_upstream) == ["Bearer tok-1", "Bearer tok-1"]


def test_token_is_refreshed_30_s_before_it_expires(fake_upstream: FakeUpstream) -> None:
    fake_upstream.token_expires_in = 100
    clock = FakeClock()
    steps = {1: 69.0, 2: 70.0}  # seconds after the first token was issued

    def advance(i: int) -> None:
        if i in steps:
            clock.now = 1000.0 + steps[i]

    result = run(fake_upstream, oauth(fake_upstream), calls=3, clock=clock, between=advance)
    assert result.results == [SMALL] * 3
    assert auth_headers(fake_upstream) == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    assert len(fake_upstream.requests_to(TOKEN_PATH)) == 2


def test_a_401_gets_a_new_token_and_one_retry(fake_upstream: FakeUpstream) -> None:
    def expire_before_second_call(i: int) -> None:
        if i == 1:
            fake_upstream.expire_tokens()

    result = run(fake_upstream, oauth(fake_upstream), calls=2, between=expire_before_second_call)
    assert result.results == [SMALL, SMALL]
    assert [r.path for r in fake_upstream.requests] == [
        TOKEN_PATH, OPENSKY_PATH, OPENSKY_PATH, TOKEN_PATH, OPENSKY_PATH,
    ]  # fmt: skip
    assert auth_headers(fake_upstream) == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    assert result.client.credits_used == 8  # the refused call costs nothing


def test_a_second_401_is_an_error_not_a_loop(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(OPENSKY_PATH, error(401), error(401), error(401))
    err = run(fake_upstream, oauth(fake_upstream)).error
    assert err.status == 401
    assert err.transient is False
    assert "bearer token was refused" in str(err)
    assert len(fake_upstream.requests_to(OPENSKY_PATH)) == 2
    assert len(fake_upstream.requests_to(TOKEN_PATH)) == 2


@pytest.mark.parametrize("secret", ["wrong-secret", "s3cr3t-that-must-not-leak"])
def test_rejected_credentials_are_a_permanent_error_without_the_secret(
    fake_upstream: FakeUpstream, secret: str
) -> None:
    err = run(fake_upstream, oauth(fake_upstream, client_secret=secret)).error
    assert err.status == 401
    assert err.transient is False
    assert "rejected the client credentials" in str(err)
    assert "unauthorized_client" in str(err)
    assert secret not in str(err)
    assert secret not in repr(err)
    assert fake_upstream.requests_to(OPENSKY_PATH) == []


def test_an_unsupported_grant_400_is_a_credentials_error(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(TOKEN_PATH, error(400, b'{"error":"invalid_client"}', "application/json"))
    err = run(fake_upstream, oauth(fake_upstream)).error
    assert (err.status, err.transient) == (400, False)
    assert "rejected the client credentials" in str(err)
    assert "invalid_client" in str(err)


@pytest.mark.parametrize("status", [500, 503])
def test_token_endpoint_down_is_transient(fake_upstream: FakeUpstream, status: int) -> None:
    fake_upstream.enqueue(TOKEN_PATH, error(status))
    err = run(fake_upstream, oauth(fake_upstream)).error
    assert (err.status, err.transient) == (status, True)
    assert fake_upstream.requests_to(OPENSKY_PATH) == []


def test_token_endpoint_answering_html_is_transient(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(TOKEN_PATH, html_page(200))
    err = run(fake_upstream, oauth(fake_upstream)).error
    assert err.transient is True
    assert "without an access_token" in str(err)


def test_token_endpoint_timeout_and_reset_are_transient(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(TOKEN_PATH, timeout(2.0), reset())
    result = run(fake_upstream, oauth(fake_upstream), calls=2, timeout_s=0.3)
    timed_out, dropped = result.results
    assert isinstance(timed_out, UpstreamError)
    assert isinstance(dropped, UpstreamError)
    assert timed_out.transient
    assert dropped.transient
    assert "timed out" in str(timed_out)
    assert "unreachable" in str(dropped)


def test_a_slow_token_endpoint_within_the_timeout_still_issues(
    fake_upstream: FakeUpstream,
) -> None:
    fake_upstream.enqueue(TOKEN_PATH, timeout(0.1))
    result = run(fake_upstream, oauth(fake_upstream), timeout_s=2.0)
    assert result.body == SMALL
    assert auth_headers(fake_upstream) == ["Bearer tok-1"]


def test_secrets_stay_out_of_reprs() -> None:
    config = OpenSkyConfig(client_id="id", client_secret="hunter2", username="u", password="pw")
    assert "hunter2" not in repr(config)
    assert "pw" not in repr(config).replace("password", "")

    async def manager_repr() -> str:
        async with httpx.AsyncClient() as http:
            return repr(TokenManager(http, "id", "hunter2"))

    assert "hunter2" not in asyncio.run(manager_repr())


# -- basic auth ---------------------------------------------------------------------------


def test_basic_auth_when_only_username_and_password_are_set(
    fake_upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    fake_upstream.basic_users = {"alice": "pw"}
    with caplog.at_level(logging.WARNING, logger="ingestion.opensky"):
        result = run(fake_upstream, OpenSkyConfig(username="alice", password="pw"))
    assert result.body == SMALL
    [header] = auth_headers(fake_upstream)
    assert header is not None
    assert header.startswith("Basic ")
    assert fake_upstream.requests_to(TOKEN_PATH) == []
    assert "basic auth" in caplog.text


def test_client_credentials_win_over_basic_auth(fake_upstream: FakeUpstream) -> None:
    result = run(fake_upstream, oauth(fake_upstream, username="alice", password="pw"))
    assert result.body == SMALL
    assert auth_headers(fake_upstream) == ["Bearer tok-1"]


def test_refused_basic_auth_points_at_client_credentials(fake_upstream: FakeUpstream) -> None:
    err = run(fake_upstream, OpenSkyConfig(username="alice", password="wrong")).error
    assert (err.status, err.transient) == (401, False)
    assert "OPENSKY_CLIENT_ID" in str(err)
    assert len(fake_upstream.requests_to(OPENSKY_PATH)) == 1  # no retry without a token


# -- 429 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry_after", "waited"), [("7", 7.0), ("22688", 300.0), ("0", None), ("soon", None)]
)
def test_429_publishes_waits_boundedly_and_raises(
    fake_upstream: FakeUpstream, retry_after: str, waited: float | None
) -> None:
    fake_upstream.enqueue(OPENSKY_PATH, rate_limited(retry_after, remaining=0))
    bus, sleep = InProcessBus(), RecordingSleep()
    result = run(fake_upstream, OpenSkyConfig(max_retry_after_s=300.0), events=bus, sleep=sleep)
    err = result.error
    assert (err.status, err.transient) == (429, False)
    assert sleep.calls == ([] if waited is None else [waited])
    assert f"waited {waited or 0:g} s" in str(err)
    if retry_after == "22688":
        assert "retry after 22688 s" in str(err)
    [event] = bus.recent
    assert isinstance(event, RateLimitExceeded)
    expected = None if retry_after == "soon" else float(retry_after)
    assert (event.source, event.retry_after_s, event.remaining) == ("opensky", expected, 0)
    assert result.client.credits_remaining == 0
    assert result.client.credits_used == 0
    assert len(fake_upstream.requests) == 1  # one request, no loop inside states()


def test_after_a_429_the_next_call_goes_through(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(OPENSKY_PATH, rate_limited(5))
    result = run(fake_upstream, calls=2, sleep=RecordingSleep())
    assert isinstance(result.results[0], UpstreamError)
    assert result.results[1] == SMALL


def test_429_without_a_bus_still_waits(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(OPENSKY_PATH, rate_limited(12, remaining=None))
    sleep = RecordingSleep()
    assert run(fake_upstream, sleep=sleep).error.status == 429
    assert sleep.calls == [12.0]


# -- HTTP and transport faults ------------------------------------------------------------


@pytest.mark.parametrize(("status", "transient"), [(500, True), (503, True), (403, False)])
def test_http_errors_carry_status_and_transience(
    fake_upstream: FakeUpstream, status: int, transient: bool
) -> None:
    fake_upstream.enqueue(OPENSKY_PATH, error(status))
    err = run(fake_upstream).error
    assert (err.status, err.transient) == (status, transient)
    assert f"HTTP {status}" in str(err)


def test_html_error_page_with_502_is_transient(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(OPENSKY_PATH, html_page(502))
    err = run(fake_upstream).error
    assert (err.status, err.transient) == (502, True)


def test_timeout_is_transient(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(OPENSKY_PATH, timeout(2.0))
    started = time.monotonic()
    err = run(fake_upstream, timeout_s=0.2).error
    assert time.monotonic() - started < 1.5
    assert (err.status, err.transient) == (None, True)
    assert "timed out" in str(err)


def test_connection_reset_is_transient(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(OPENSKY_PATH, reset())
    err = run(fake_upstream).error
    assert (err.status, err.transient) == (None, True)
    assert "unreachable" in str(err)


def test_connection_refused_is_transient() -> None:
    upstream = FakeUpstream().start()
    upstream.stop()  # the port is now closed
    err = run(upstream).error
    assert err.transient is True


# -- bodies are returned as received; parsing is the pipeline's job ------------------------


def test_null_states_body_normalises_to_nothing(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(OPENSKY_PATH, null_states(1_683_488_744))
    body = run(fake_upstream).body
    assert body == b'{"time":1683488744,"states":null}'
    result = OpenSkySource.normalise(parse_json(body))
    assert (result.candidates, result.rejects) == ([], [])


def test_truncated_json_is_returned_as_bytes(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(OPENSKY_PATH, truncated(100))
    body = run(fake_upstream).body
    assert body == SMALL[:100]
    with pytest.raises(UpstreamError, match="not JSON"):
        parse_json(body)


def test_html_page_with_200_is_returned_as_bytes(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(OPENSKY_PATH, html_page(200))
    body = run(fake_upstream).body
    assert body.startswith(b"<!DOCTYPE html>")


# -- configuration and the FlightSource ---------------------------------------------------


def test_source_from_settings_fetches_and_normalises(fake_upstream: FakeUpstream) -> None:
    settings = SimpleNamespace(
        opensky_api_url=f"{fake_upstream.url}/api",
        opensky_client_id=CLIENT_ID,
        opensky_client_secret=CLIENT_SECRET,
        opensky_auth_url=f"{fake_upstream.url}{TOKEN_PATH}",
        opensky_bbox="45.8,5.9,47.8,10.5",
        opensky_icao24=("AB1644",),
        opensky_max_retry_after_s=60.0,
    )
    bus = InProcessBus()

    async def go() -> bytes:
        async with httpx.AsyncClient(timeout=2.0) as http:
            source = OpenSkySource.from_settings(settings, http, bus)
            assert source.name == "opensky"
            assert source.client.config.bbox == ALPS
            assert source.client.config.max_retry_after_s == 60.0
            return await source.fetch()

    body = asyncio.run(go())
    assert len(OpenSkySource.normalise(parse_json(body)).candidates) == 4
    [request] = fake_upstream.requests_to(OPENSKY_PATH)
    assert request.param("icao24") == ["ab1644"]
    assert request.headers["authorization"] == "Bearer tok-1"


def test_settings_without_opensky_fields_mean_anonymous_global() -> None:
    config = config_from_settings(Settings.from_env({}))
    assert config == OpenSkyConfig()
    assert config.auth == "anonymous"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"opensky_bbox": "1,2,3"}, "OPENSKY_BBOX"),
        ({"opensky_bbox": "a,b,c,d"}, "OPENSKY_BBOX"),
        ({"opensky_bbox": "50,0,40,10"}, "OPENSKY_BBOX"),
        ({"opensky_bbox": "0,0,95,10"}, "OPENSKY_BBOX"),
        ({"opensky_icao24": "xyz"}, "OPENSKY_ICAO24"),
        ({"opensky_client_id": "id"}, "OPENSKY_CLIENT_SECRET"),
        ({"opensky_password": "pw"}, "OPENSKY_USERNAME"),
        ({"opensky_max_retry_after_s": -1.0}, "OPENSKY_MAX_RETRY_AFTER"),
    ],
)
def test_bad_settings_are_config_errors_naming_the_variable(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_settings(SimpleNamespace(**fields))


# -- the fake upstream itself -------------------------------------------------------------


def test_fake_upstream_starts_fast_and_stops_cleanly() -> None:
    started = time.monotonic()
    upstream = FakeUpstream().start()
    assert time.monotonic() - started < 1.0
    upstream.enqueue(OPENSKY_PATH, timeout(30.0))
    with httpx.Client(timeout=0.2) as http, pytest.raises(httpx.TimeoutException):
        http.get(f"{upstream.url}{OPENSKY_PATH}")
    stopping = time.monotonic()
    upstream.stop()  # a handler still sleeping in a fault must not hold the stop up
    assert time.monotonic() - stopping < 2.0


def test_fake_upstream_serves_any_file_at_any_path(fake_upstream: FakeUpstream) -> None:
    fake_upstream.serve("/data/aircraft.json", b'{"now":1,"messages":0,"aircraft":[]}')
    fake_upstream.serve("/v2/point/*", "opensky_states_bbox_alps_79.json")
    with httpx.Client(base_url=fake_upstream.url) as http:
        assert http.get("/data/aircraft.json").json()["aircraft"] == []
        point = http.get("/v2/point/51.5/-0.1/250", headers={"api-auth": "k"})
        assert point.content == (FIXTURES / "opensky_states_bbox_alps_79.json").read_bytes()
        assert http.get("/nowhere").status_code == 404
    assert fake_upstream.requests_to("/v2/point/51.5/-0.1/250")[0].headers["api-auth"] == "k"
