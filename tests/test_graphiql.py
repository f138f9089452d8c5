"""GraphiQL works with no network: the page loads its scripts from this service."""

from __future__ import annotations

import re

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
