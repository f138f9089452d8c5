"""The services the command line runs, built from settings and open stores."""

from __future__ import annotations

from analytics.daily import DailyProcessor, build_processor
from config import Settings
from security.keys import KeyService
from storage.stores import Stores


def key_service(settings: Settings, stores: Stores) -> KeyService:
    """Issues, lists, revokes and rotates API keys in the stores' key repository."""
    tiers = frozenset(name for name, _, _ in settings.rate_tiers)
    return KeyService(stores.api_keys, tiers, settings.api_key_days)


def daily_processor(settings: Settings, stores: Stores) -> DailyProcessor:
    """The daily analytics over the processed data where the settings put it."""
    return build_processor(settings, stores.legs, stores.cycles)
