"""GraphiQL works with no network: the page loads its scripts from this service."""

from __future__ import annotations

import re

from app import create_app
from config import Settings
from testkit import TestClient


def test_graphiql_page_names_no_cdn(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"})

    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    assert "unpkg.com" not in page.text
    assert "integrity=" not in page.text
    assets = re.findall(r'(?:src|href)="(/static/graphiql/[^"]+)"', page.text)
    assert len(assets) == 7


def test_every_asset_the_page_names_is_served(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"}).text
    for asset in re.findall(r'(?:src|href)="(/static/graphiql/[^"]+)"', page):
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 500, asset


def test_graphiql_subscribes_on_this_host_by_default(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"}).text

    assert "const subscriptionUrl = httpUrlToWebSockeUrl(fetchURL);" in page


def test_graphiql_subscribes_where_the_settings_say(seeded_settings: Settings) -> None:
    url = "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    settings = Settings.from_env(
        {"FLIGHTDATA_SUBSCRIPTION_URL": url}, data_dir=seeded_settings.data_dir
    )
    with TestClient(create_app(settings, ingest=False)) as client:
        page = client.get("/graphql", headers={"Accept": "text/html"}).text

    assert f'const subscriptionUrl = "{url}";' in page
    assert "httpUrlToWebSockeUrl(fetchURL)" not in page
