"""Gzip for clients that accept it, at no cost for those that do not.

Starlette's ``GZipMiddleware`` wraps every response in a responder that buffers its start
message and parses its headers, even when the client does not accept gzip (wrk, most API
clients, CDNs that compress themselves); that measured about a tenth of a small query's
time. This hands a request to it only when its ``Accept-Encoding`` names gzip.

Level 1, nginx's default for dynamic responses: a 64 KB ``flights(first: 500)`` answer
compresses to 16.5 KB in 0.35 ms, against 13.8 KB in 0.92 ms at level 6 (zlib's default).
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class GzipWhenAccepted:
    def __init__(self, app: ASGIApp, minimum_size: int = 1024, compresslevel: int = 1) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=compresslevel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"accept-encoding":
                    if b"gzip" in value:
                        await self.gzip(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)
