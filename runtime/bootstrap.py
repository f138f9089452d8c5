"""Day one of a new deployment: the airports loaded and a first admin key issued.

``bootstrap`` is safe to run again. Airports: the offline ``airportsdata`` list (about
28,000) goes into an empty airports table and a table that has airports is left alone;
OurAirports CSV files, when given, are loaded whatever the table holds (an upsert by ICAO
code). The first key: issued only when no active admin key exists, or when ``new_key``
asks for another; its secret is in the report once, and only its SHA-256 is stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from config import Settings
from domain.api_key import ApiKey
from ingestion.reference import LoadReport, load_ourairports, seed_airports
from runtime.services import key_service
from security.keys import Issued
from storage.stores import Stores

FIRST_KEY_NAME = "first admin key"


@dataclass(frozen=True)
class BootstrapReport:
    airports_seeded: int  # from airportsdata; 0 when the table had airports already
    airports: int  # in the table afterwards
    ourairports: LoadReport | None  # what an OurAirports import loaded and rejected
    issued: Issued | None  # the new key (its secret shown once), or None
    admin_keys: list[ApiKey]  # the active admin keys found before any was issued


def bootstrap(
    settings: Settings,
    stores: Stores,
    *,
    airports_csv: str | None = None,
    runways_csv: str | None = None,
    new_key: bool = False,
    key_name: str = FIRST_KEY_NAME,
    key_days: float | None = None,
) -> BootstrapReport:
    """Load the airports and issue the first admin key, doing only what is missing."""
    seeded = seed_airports(stores)
    imported = None
    if airports_csv is not None:
        imported = load_ourairports(stores.airports, airports_csv, runways_csv)
    service = key_service(settings, stores)
    now = time.time()
    admins = [k for k in service.list() if "admin" in k.scopes and k.status(now) == "active"]
    issued = None
    if new_key or not admins:
        issued = service.create(key_name, scope="admin", days=key_days)
    return BootstrapReport(seeded, stores.airports.count(), imported, issued, admins)
