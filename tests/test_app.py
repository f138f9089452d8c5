"""The ASGI app: routes, GraphiQL, GET queries, health, lifespan wiring."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from app import create_app
from config import Settings
from storage.base import StoreUnavailable
from testkit import FIXTURES, ReplayWorld, TestClient

QUERY = "{ flights(first: 1) { totalCount } }"


def test_index_is_a_page_not_a_redirect(client: TestClient) -> None:
    # The dashboard, or the page that says how to build it (tests/api/test_dashboard.py).
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_graphiql_for_a_browser(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


def test_graphiql_can_be_turned_off(seeded_settings: Settings) -> None:
    settings = replace(seeded_settings, graphiql=False)
    with TestClient(create_app(settings, ingest=False)) as client:
        response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 404


def test_query_via_get(client: TestClient) -> None:
    response = client.get("/graphql", params={"query": '{ airport(code: "LHR") { icao } }'})
    assert response.status_code == 200
    assert response.json() == {"data": {"airport": {"icao": "EGLL"}}}


def test_query_via_post_with_variables(client: TestClient) -> None:
    response = client.post(
        "/graphql",
        json={
            "query": "query ($c: String!) { airport(code: $c) { name } }",
            "variables": {"c": "egll"},
        },
    )
    assert response.json() == {"data": {"airport": {"name": "London Heathrow Airport"}}}


def test_empty_store_answers_an_empty_connection(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": QUERY})
    assert response.json() == {"data": {"flights": {"totalCount": 0}}}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"{not json", "application/json"), (b'{"variables": {}}', "application/json")],
)
def test_malformed_requests_are_400_not_500(
    client: TestClient, body: bytes, content_type: str
) -> None:
    response = client.post("/graphql", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400


def test_mutations_over_get_are_refused_and_other_methods_too(client: TestClient) -> None:
    assert client.put("/graphql", json={"query": QUERY}).status_code == 405
    assert client.get("/nowhere").status_code == 404


def test_healthz_reports_the_store(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "backend": "embedded",
        "store": "reachable",
        "newest_state_age_s": None,
    }


def test_healthz_reports_the_age_of_the_newest_state(replay_world: ReplayWorld) -> None:
    body = replay_world.client.get("/healthz").json()
    assert body["store"] == "reachable"
    # The second replay cycle was stamped "now" when the world was built; states keep
    # their recorded ages, the freshest a second or so old.
    assert 0 <= body["newest_state_age_s"] < 120


def test_healthz_when_the_store_is_down(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = client.app.state.runtime.stores  # type: ignore[attr-defined]

    def down() -> None:
        raise StoreUnavailable("database is locked")

    monkeypatch.setattr(stores, "ping", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "store": "unreachable"}


def test_cors_when_origins_are_configured(seeded_settings: Settings) -> None:
    settings = replace(seeded_settings, cors_origins=("https://app.example",))
    with TestClient(create_app(settings, ingest=False)) as client:
        response = client.options(
            "/graphql",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
            },
        )
        other = client.post(
            "/graphql", json={"query": QUERY}, headers={"Origin": "https://evil.example"}
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


def test_lifespan_seeds_airports_into_an_empty_store(settings: Settings) -> None:
    with TestClient(create_app(settings, ingest=False)) as client:
        response = client.post("/graphql", json={"query": '{ airport(code: "KJFK") { iata } }'})
        count = client.app.state.runtime.stores.airports.count()  # type: ignore[attr-defined]
    assert response.json() == {"data": {"airport": {"iata": "JFK"}}}
    assert count > 28_000


def test_lifespan_runs_the_ingest_loop(seeded_settings: Settings) -> None:
    settings = replace(
        seeded_settings,
        source=f"file:{FIXTURES / 'opensky_states_bbox_alps_79.json'}",
        interval_s=60.0,
    )
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 10
        body = client.get("/healthz").json()
        while "last_cycle" not in body and time.monotonic() < deadline:
            time.sleep(0.05)
            body = client.get("/healthz").json()
        flights = client.post("/graphql", json={"query": QUERY}).json()
    assert body["last_cycle"]["stored"] == 78
    assert body["last_cycle"]["rejected"] == 1
    assert body["last_cycle"]["error"] is None
    assert flights == {"data": {"flights": {"totalCount": 78}}}


def test_no_ingest_loop_when_ingest_is_off(seeded_settings: Settings) -> None:
    app = create_app(replace(seeded_settings, ingest=False))
    with TestClient(app) as client:
        assert "last_cycle" not in client.get("/healthz").json()
    assert app.state.runtime.ingest is None


def test_data_survives_a_restart_of_the_app(seeded_settings: Settings) -> None:
    settings = replace(
        seeded_settings, source=f"file:{FIXTURES / 'opensky_states_small_4_18field.json'}"
    )
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 10
        while not client.app.state.runtime.ingest.reports and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.05)
    with TestClient(create_app(settings, ingest=False)) as client:
        body = client.post(
            "/graphql", json={"query": '{ flight(icao24: "AB1644") { callsign } }'}
        ).json()
    assert body == {"data": {"flight": {"callsign": "UAL421"}}}
