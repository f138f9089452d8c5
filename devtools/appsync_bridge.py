"""The AppSync Lambda handlers over local HTTP, for the AppSync simulator
(``devtools/appsync_simulator.cjs``): ``POST /resolve`` runs
``runtime.appsync_lambdas.resolver`` on the body (AppSync's direct resolver payload) and
``POST /authorize`` runs ``runtime.appsync_lambdas.authorizer``, each in the handler's own
way: a fresh ``asyncio.run`` per invocation, one warm runtime per process.

``/resolve`` answers ``{"data": value}``, or ``{"error": {"message", "type"}}`` where a
Lambda invocation would have failed. Serves 127.0.0.1 only; a thread per request.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from runtime import appsync_lambdas

log = logging.getLogger(__name__)


class _Context:
    aws_request_id = "local"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        answer: Any
        try:
            event = orjson.loads(body)
            if self.path == "/resolve":
                answer = {"data": appsync_lambdas.resolver(event, _Context())}
            elif self.path == "/authorize":
                answer = appsync_lambdas.authorizer(event, _Context())
            else:
                self.send_error(404)
                return
        except Exception as exc:
            if self.path != "/resolve":
                log.exception("authorizer failed")
            answer = {"error": {"message": str(exc), "type": type(exc).__name__}}
        payload = orjson.dumps(answer)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


class Bridge:
    """The bridge on a free port of 127.0.0.1, served from a daemon thread."""

    def __init__(self, port: int = 0) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Bridge:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        appsync_lambdas.reset_runtime()
