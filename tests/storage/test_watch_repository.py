"""WatchRepository contract, run against every backend (SQLite, DynamoDB Local)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.base import WatchRepository
from storage.stores import Stores

NOW = datetime.now(UTC)


@pytest.fixture
def watches(stores: Stores) -> WatchRepository:
    return stores.watches


def test_nothing_is_watched_at_first(watches: WatchRepository) -> None:
    assert watches.watched(NOW) == set()


def test_a_watch_holds_until_its_end(watches: WatchRepository) -> None:
    watches.watch("3c6444", NOW + timedelta(hours=1))
    watches.watch("4b1814", NOW + timedelta(hours=2))

    assert watches.watched(NOW) == {"3c6444", "4b1814"}
    assert watches.watched(NOW + timedelta(hours=1)) == {"4b1814"}
    assert watches.watched(NOW + timedelta(hours=2)) == set()


def test_a_later_watch_extends_an_earlier_one_and_never_shortens_it(
    watches: WatchRepository,
) -> None:
    watches.watch("3c6444", NOW + timedelta(hours=1))
    watches.watch("3c6444", NOW + timedelta(hours=3))
    watches.watch("3c6444", NOW + timedelta(hours=2))

    assert watches.watched(NOW + timedelta(hours=2, minutes=30)) == {"3c6444"}
    assert watches.watched(NOW + timedelta(hours=3)) == set()
