"""Helpers of the security tests: keys of every status, and an app serving them.

Imported as ``securitykit`` (as the analytics tests import ``recorded_day``); the fixtures
are in ``conftest.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from testredis import redis_url

from app import Runtime, create_app
from config import Settings
from security.keys import KeyService
from storage.stores import Stores
from testkit import TestClient

REDIS_URL = os.environ.get("FLIGHTDATA_TEST_SECURITY_REDIS_URL") or redis_url(8)
TIERS = frozenset({"anonymous", "standard", "partner"})
DAY_S = 86400.0


@dataclass(frozen=True)
class Keys:
    """One key of each kind, as a client would send it."""

    read: str
    admin: str
    revoked: str
    expired: str
    rotated_old: str
    rotated_new: str
    unknown: str = "fd_0123456789ab_" + "x" * 43
    malformed: str = "not-a-key"


def make_keys(stores: Stores) -> Keys:
    repo = stores.api_keys
    service = KeyService(repo, TIERS)
    past = KeyService(repo, TIERS, clock=lambda: time.time() - 100 * DAY_S)
    revoked = service.create("revoked")
    service.revoke(revoked.record.key_id)
    rotated = service.create("rotated")
    new, _ = service.rotate(rotated.record.key_id)
    return Keys(
        read=service.create("reader").key,
        admin=service.create("operator", scope="admin").key,
        revoked=revoked.key,
        expired=past.create("old").key,
        rotated_old=rotated.key,
        rotated_new=new.key,
    )


@dataclass
class Served:
    client: TestClient
    runtime: Runtime
    keys: Keys


def serve(settings: Settings) -> Iterator[Served]:
    app = create_app(settings, ingest=False)
    runtime: Runtime = app.state.runtime
    keys = make_keys(runtime.stores)
    with TestClient(app) as client:
        yield Served(client, runtime, keys)
