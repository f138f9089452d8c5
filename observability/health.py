"""``GET /readyz``: whether this process should receive traffic.

Ready (200) when the store answers and its newest state is at most
``FLIGHTDATA_READY_MAX_AGE`` seconds old; otherwise 503, with a body naming the check
that failed::

    {"status": "unready", "checks": {"store": "ok",
     "data": "stale: the newest state is 312 s old (at most 120)"}}

``/healthz`` stays the liveness probe: it answers 200 while the store does, however old
the data. A degraded optional part (Redis) keeps the service ready: it still answers
from the store; the body lists it under ``degraded``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from config import Settings
from storage.base import StoreUnavailable
from storage.offload import offload

if TYPE_CHECKING:
    from storage.stores import Stores

log = logging.getLogger(__name__)


def readiness(stores: Stores, max_age_s: float) -> tuple[bool, dict[str, Any]]:
    """``(ready, body)``: the store reachable and its newest state recent enough."""
    checks: dict[str, str] = {}
    body: dict[str, Any] = {"status": "unready", "checks": checks}
    try:
        stores.ping()
        newest = stores.flights.newest_contact()
    except StoreUnavailable as exc:
        log.warning("readiness: store unavailable: %s", exc)
        checks["store"] = "unreachable"
        return False, body
    checks["store"] = "ok"
    if newest is None:
        checks["data"] = "empty: no state has been stored yet"
    else:
        age = (datetime.now(UTC) - newest).total_seconds()
        body["newest_state_age_s"] = round(age, 1)
        if age > max_age_s:
            checks["data"] = f"stale: the newest state is {age:.0f} s old (at most {max_age_s:g})"
        else:
            checks["data"] = "ok"
    if down := stores.degraded():
        body["degraded"] = down
    ready = all(v == "ok" for v in checks.values())
    body["status"] = "ready" if ready else "unready"
    return ready, body


def routes(stores: Stores, settings: Settings) -> list[Route]:
    async def readyz(request: Request) -> Response:
        ready, body = await offload(readiness, stores, settings.ready_max_age_s)
        return Response(
            orjson.dumps(body), status_code=200 if ready else 503, media_type="application/json"
        )

    return [Route("/readyz", readyz, methods=["GET"])]
