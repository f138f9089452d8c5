"""The dashboard through the HTTP app: the built page at ``/``, its assets, its runtime
settings, the page that says how to build it, and none of it behind the API key gate.

A fake build in a temporary ``FLIGHTDATA_DASHBOARD_DIR`` stands in for ``npm run build``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.dashboard import IMMUTABLE, tile_source
from app import create_app
from config import ConfigError, Settings
from testkit import TestClient

INDEX = """<!doctype html>
<html lang="en"><head><meta charset="UTF-8"><title>flightdata: live traffic</title>
<script type="module" crossorigin src="./assets/index-Bx7k2QpA.js"></script>
<link rel="stylesheet" crossorigin href="./assets/index-D4fG8hJk.css"></head>
<body><div id="root"></div></body></html>
"""
SCRIPT = "console.log('flightdata dashboard');\n" * 50
OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A built dashboard: index.html and two hashed assets."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX, encoding="utf-8")
    (root / "assets" / "index-Bx7k2QpA.js").write_text(SCRIPT, encoding="utf-8")
    (root / "assets" / "index-D4fG8hJk.css").write_text("body { margin: 0 }\n", encoding="utf-8")
    return root


def _client(seeded_settings: Settings, **env: str) -> TestClient:
    settings = Settings.from_env(env, data_dir=seeded_settings.data_dir)
    return TestClient(create_app(settings, ingest=False))


@pytest.fixture
def built(seeded_settings: Settings, dist: Path) -> Iterator[TestClient]:
    with _client(seeded_settings, FLIGHTDATA_DASHBOARD_DIR=str(dist)) as client:
        yield client


# ---------------------------------------------------------------- the page


def test_the_built_page_is_served_at_the_root_with_its_query_string(built: TestClient) -> None:
    response = built.get("/?bbox=49.5,-11,61,2&icao=abc123", follow_redirects=False)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == INDEX
    # A new build must reach browsers at once: the page names the new hashed assets.
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_page_policy_admits_the_dashboard_and_nothing_foreign(built: TestClient) -> None:
    policy = dict(
        part.strip().split(" ", 1)
        for part in built.get("/").headers["content-security-policy"].split(";")
    )

    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["img-src"] == "'self' data: blob:"
    assert policy["connect-src"] == "'self' ws: wss:"
    assert policy["object-src"] == "'none'"
    assert "https:" not in " ".join(policy.values())


def test_the_page_policy_admits_the_tile_server(seeded_settings: Settings, dist: Path) -> None:
    env = {"FLIGHTDATA_DASHBOARD_DIR": str(dist), "FLIGHTDATA_TILE_URL": OSM}
    with _client(seeded_settings, **env) as client:
        header = client.get("/").headers["content-security-policy"]
    policy = dict(part.strip().split(" ", 1) for part in header.split(";"))

    assert policy["img-src"] == "'self' data: blob: https://tile.openstreetmap.org"
    assert policy["connect-src"] == "'self' ws: wss: https://tile.openstreetmap.org"
    assert policy["script-src"] == "'self'"


@pytest.mark.parametrize(
    ("url", "source"),
    [
        (OSM, "https://tile.openstreetmap.org"),
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
        ("http://localhost:8080/tiles/{z}/{x}/{y}.png", "http://localhost:8080"),
        ("https://{s}-tiles.example.org/{z}/{x}/{y}.png", "https:"),
        ("/tiles/{z}/{x}/{y}.png", None),
        ("", None),
    ],
)
def test_tile_source(url: str, source: str | None) -> None:
    assert tile_source(url) == source


@pytest.mark.parametrize("layout", ["empty", "missing"])
def test_without_a_build_the_page_says_how_to_make_one(
    seeded_settings: Settings, tmp_path: Path, layout: str
) -> None:
    directory = tmp_path / "dist"
    if layout == "empty":
        (directory / "assets").mkdir(parents=True)
    with _client(seeded_settings, FLIGHTDATA_DASHBOARD_DIR=str(directory)) as client:
        response = client.get("/?bbox=1,2,3,4&icao=abc123", follow_redirects=False)
        graphiql = client.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    page = response.text
    assert "not built" in page
    assert "make dashboard" in page
    assert "make run" in page
    assert "Node.js 20" in page
    assert "npm" in page
    assert str(directory) in page
    assert 'href="/graphql"' in page
    assert 'href="/healthz"' in page
    assert "<script" not in page
    assert graphiql.status_code == 200
    assert "graphiql" in graphiql.text.lower()


def test_a_build_made_while_serving_is_served_without_a_restart(
    seeded_settings: Settings, tmp_path: Path
) -> None:
    directory = tmp_path / "later"
    with _client(seeded_settings, FLIGHTDATA_DASHBOARD_DIR=str(directory)) as client:
        before = client.get("/")
        asset_before = client.get("/assets/index-Bx7k2QpA.js")
        (directory / "assets").mkdir(parents=True)
        (directory / "index.html").write_text(INDEX, encoding="utf-8")
        (directory / "assets" / "index-Bx7k2QpA.js").write_text(SCRIPT, encoding="utf-8")
        after = client.get("/")
        asset_after = client.get("/assets/index-Bx7k2QpA.js")

    assert "not built" in before.text
    assert asset_before.status_code == 404
    assert after.text == INDEX
    assert asset_after.status_code == 200


# ---------------------------------------------------------------- the assets


def test_assets_are_served_and_cached_for_a_year(built: TestClient) -> None:
    script = built.get("/assets/index-Bx7k2QpA.js")
    style = built.get("/assets/index-D4fG8hJk.css")

    assert script.status_code == 200
    assert script.text == SCRIPT
    assert "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == IMMUTABLE
    assert IMMUTABLE == "public, max-age=31536000, immutable"
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")
    assert style.headers["cache-control"] == IMMUTABLE


def test_an_unchanged_asset_is_not_sent_again(built: TestClient) -> None:
    first = built.get("/assets/index-Bx7k2QpA.js")
    again = built.get("/assets/index-Bx7k2QpA.js", headers={"If-None-Match": first.headers["etag"]})

    assert again.status_code == 304
    assert again.content == b""


def test_an_asset_is_compressed_for_clients_that_accept_it(built: TestClient) -> None:
    response = built.get("/assets/index-Bx7k2QpA.js", headers={"Accept-Encoding": "gzip"})

    assert response.headers["content-encoding"] == "gzip"
    assert response.text == SCRIPT


@pytest.mark.parametrize(
    "path", ["/assets/index-missing.js", "/assets/", "/assets/%2e%2e/index.html"]
)
def test_a_missing_asset_is_404(built: TestClient, path: str) -> None:
    assert built.get(path).status_code == 404


def test_assets_are_404_not_an_error_when_nothing_is_built(
    seeded_settings: Settings, tmp_path: Path
) -> None:
    missing = tmp_path / "never-built"
    with _client(seeded_settings, FLIGHTDATA_DASHBOARD_DIR=str(missing)) as client:
        first = client.get("/assets/index-Bx7k2QpA.js")
        second = client.get("/assets/index-Bx7k2QpA.js")

    assert (first.status_code, second.status_code) == (404, 404)
    assert not missing.exists()


def test_the_default_directory_is_the_repositorys_build() -> None:
    expected = Path(__file__).resolve().parents[2] / "dashboard" / "dist"

    assert Settings.from_env({}).dashboard_dir == expected


# ---------------------------------------------------------------- config.json


def test_config_points_the_dashboard_at_this_origin(built: TestClient) -> None:
    response = built.get("/config.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-cache"
    assert response.json() == {
        "graphqlUrl": "/graphql",
        "subscriptionUrl": None,
        "tileUrl": None,
        "tileAttribution": None,
        "anonymous": True,
    }


def test_config_carries_the_tile_layer_and_the_key_requirement(
    seeded_settings: Settings, dist: Path
) -> None:
    env = {
        "FLIGHTDATA_DASHBOARD_DIR": str(dist),
        "FLIGHTDATA_TILE_URL": OSM,
        "FLIGHTDATA_TILE_ATTRIBUTION": "© OpenStreetMap contributors",
        "FLIGHTDATA_ANONYMOUS": "false",
    }
    with _client(seeded_settings, **env) as client:
        config = client.get("/config.json").json()

    assert config == {
        "graphqlUrl": "/graphql",
        "subscriptionUrl": None,
        "tileUrl": OSM,
        "tileAttribution": "© OpenStreetMap contributors",
        "anonymous": False,
    }


def test_config_names_where_subscriptions_live_when_elsewhere(seeded_settings: Settings) -> None:
    url = "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    with _client(seeded_settings, FLIGHTDATA_SUBSCRIPTION_URL=url) as client:
        assert client.get("/config.json").json()["subscriptionUrl"] == url


@pytest.mark.parametrize("url", ["https://example.com/graphql", "/graphql", "wss://"])
def test_a_subscription_url_must_be_a_websocket_url(url: str) -> None:
    with pytest.raises(ConfigError, match="FLIGHTDATA_SUBSCRIPTION_URL"):
        Settings.from_env({"FLIGHTDATA_SUBSCRIPTION_URL": url})


def test_config_says_anonymous_when_security_is_off(seeded_settings: Settings) -> None:
    env = {"FLIGHTDATA_ANONYMOUS": "false", "FLIGHTDATA_SECURITY": "false"}
    with _client(seeded_settings, **env) as client:
        assert client.get("/config.json").json()["anonymous"] is True


# ---------------------------------------------------------------- no key needed


def test_the_dashboard_needs_no_key_when_the_api_does(
    seeded_settings: Settings, dist: Path
) -> None:
    env = {"FLIGHTDATA_DASHBOARD_DIR": str(dist), "FLIGHTDATA_ANONYMOUS": "false"}
    with _client(seeded_settings, **env) as client:
        api = client.post("/graphql", json={"query": "{ flights(first: 1) { totalCount } }"})
        page = client.get("/?bbox=1,2,3,4")
        asset = client.get("/assets/index-Bx7k2QpA.js")
        missing = client.get("/assets/x")
        config = client.get("/config.json")
        graphiql = client.get("/graphql", headers={"Accept": "text/html"})

    assert api.status_code == 401
    assert api.json()["error"] == "api_key_required"
    assert page.status_code == 200
    assert page.text == INDEX
    assert asset.status_code == 200
    assert missing.status_code == 404
    assert config.status_code == 200
    assert config.json()["anonymous"] is False
    assert graphiql.status_code == 200
    assert "graphiql" in graphiql.text.lower()
    # No rate-limit bookkeeping either: the gate never saw these requests.
    assert "ratelimit-limit" not in page.headers
    assert "ratelimit-limit" not in config.headers
