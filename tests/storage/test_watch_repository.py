"""WatchRepository contract, run against every backend (SQLite, DynamoDB Local)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.base import WatchRepository
from storage.stores import Stores

NOW = datetime.now(UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def watches(stores: Stores) -> WatchRepository:
    return stores.watches


def test_nothing_is_watched_at_first(watches: WatchRepository) -> None:
    assert watches.watched("trackUpdates", NOW) == set()


def test_a_watch_holds_until_its_end(watches: WatchRepository) -> None:
    watches.watch("trackUpdates", ["3c6444"], NOW + HOUR)
    watches.watch("trackUpdates", ["4b1814", "a1b2c3"], NOW + 2 * HOUR)

    assert watches.watched("trackUpdates", NOW) == {"3c6444", "4b1814", "a1b2c3"}
    assert watches.watched("trackUpdates", NOW + HOUR) == {"4b1814", "a1b2c3"}
    assert watches.watched("trackUpdates", NOW + 2 * HOUR) == set()


def test_each_field_has_its_own_watches(watches: WatchRepository) -> None:
    watches.watch("trackUpdates", ["3c6444"], NOW + HOUR)
    watches.watch("flightUpdates", ["4b1814"], NOW + HOUR)

    assert watches.watched("trackUpdates", NOW) == {"3c6444"}
    assert watches.watched("flightUpdates", NOW) == {"4b1814"}


def test_a_later_watch_extends_an_earlier_one_and_never_shortens_it(
    watches: WatchRepository,
) -> None:
    watches.watch("trackUpdates", ["3c6444"], NOW + HOUR)
    watches.watch("trackUpdates", ["3c6444"], NOW + 3 * HOUR)
    watches.watch("trackUpdates", ["3c6444"], NOW + 2 * HOUR)

    assert watches.watched("trackUpdates", NOW + 2.5 * HOUR) == {"3c6444"}
    assert watches.watched("trackUpdates", NOW + 3 * HOUR) == set()
