"""The dashboard: the built single-page app at ``/``, its assets, and its runtime settings.

``npm run build`` in ``dashboard/`` (``make dashboard``; ``make run`` builds it when npm is
there) writes ``index.html`` and ``assets/`` to ``FLIGHTDATA_DASHBOARD_DIR``
(``dashboard/dist``). Served here:

====================  ==============================================================
``GET /``             the built ``index.html`` (``Cache-Control: no-cache``); without a
                      build, a page that says how to make one and links GraphiQL
``GET /assets/…``     the built files, cached for a year: Vite names them by content
                      hash, so a new build is new names. 404 while nothing is built.
``GET /config.json``  what the dashboard reads at start: where the API is, the optional
                      online tile layer, and whether the API needs a key
====================  ==============================================================

The directory is looked at on every request, so a build made while the server runs is
served without a restart. None of these paths is behind the API key gate
(``security.middleware.protected``): the page itself holds no data.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from config import Settings

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"


class AssetFiles(StaticFiles):
    """The built assets, cacheable for a year; a directory not (yet) built answers 404."""

    async def check_config(self) -> None:
        # StaticFiles fails every request when its directory is missing; here that is a
        # machine without npm, or a build still to come: each missing file is a 404.
        return None

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = IMMUTABLE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def tile_source(tile_url: str) -> str | None:
    """The Content-Security-Policy source that admits ``tile_url``'s tiles: its origin,
    with a ``{s}`` subdomain as ``*``; its scheme when the host has other placeholders;
    None for a path on this host (``'self'`` covers it) or no URL."""
    if not tile_url or tile_url.startswith("/"):
        return None
    parts = urlsplit(tile_url)
    host = parts.netloc.rpartition("@")[2]
    if host.startswith("{s}."):
        host = "*." + host.removeprefix("{s}.")
    if not host or "{" in host or "}" in host:
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{host}"


def security_headers(settings: Settings) -> dict[str, str]:
    """Headers of the HTML pages: scripts and data from here only; styles inline too
    (the map and the charts set them); images also from ``data:``, ``blob:`` and the
    tile server; WebSockets to this host for subscriptions."""
    tiles = tile_source(settings.tile_url)
    extra = f" {tiles}" if tiles else ""
    policy = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob:{extra}",
            "font-src 'self' data:",
            f"connect-src 'self' ws: wss:{extra}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Frame-Options": "DENY",
    }


def runtime_config(settings: Settings) -> dict[str, Any]:
    """``config.json``: the API on this origin; subscriptions at
    ``FLIGHTDATA_SUBSCRIPTION_URL``, or (``subscriptionUrl`` null) at ``ws(s)://`` this
    host ``/graphql``; the optional tile layer; and whether requests without an API key
    are served."""
    return {
        "graphqlUrl": "/graphql",
        "subscriptionUrl": settings.subscription_url or None,
        "tileUrl": settings.tile_url or None,
        "tileAttribution": settings.tile_attribution or None,
        "anonymous": settings.anonymous or not settings.security,
    }


_NOT_BUILT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>flightdata: dashboard not built</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 3rem auto;
  padding: 0 1rem; color: #1f2933; }}
code, pre {{ background: #f0f2f5; border-radius: 4px; padding: 0.1rem 0.3rem; }}
pre {{ padding: 0.75rem 1rem; overflow-x: auto; }}
</style>
</head>
<body>
<main>
<h1>The dashboard is not built</h1>
<p>The API is running. The live map dashboard is built from <code>dashboard/</code> with
Node.js 20.19 or newer and npm, and then served here at <code>/</code>:</p>
<pre>make dashboard</pre>
<p>or <code>make run</code>, which builds it whenever <code>npm</code> is installed, then
serves. No build was found in <code>{directory}</code> (<code>FLIGHTDATA_DASHBOARD_DIR</code>).</p>
<p>Meanwhile:</p>
<ul>
<li><a href="/graphql">GraphiQL</a> at <code>/graphql</code>: explore and query the API</li>
<li><a href="/healthz">/healthz</a>: the service and its newest data</li>
</ul>
</main>
</body>
</html>
"""


def routes(settings: Settings) -> list[BaseRoute]:
    directory = Path(settings.dashboard_dir)
    index = directory / "index.html"
    headers = security_headers(settings)
    config = runtime_config(settings)
    not_built = _NOT_BUILT.format(directory=html.escape(str(directory)))

    async def page(request: Request) -> Response:
        if index.is_file():
            return FileResponse(
                index, media_type="text/html", headers={"Cache-Control": NO_CACHE, **headers}
            )
        return HTMLResponse(not_built, headers={"Cache-Control": NO_CACHE, **headers})

    async def config_json(request: Request) -> Response:
        return JSONResponse(config, headers={"Cache-Control": NO_CACHE})

    return [
        Route("/", page, methods=["GET"]),
        Route("/config.json", config_json, methods=["GET"]),
        Mount("/assets", AssetFiles(directory=directory / "assets", check_dir=False)),
    ]
