"""Fixtures of the analytics tests: a recorded past day (``recorded_day``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from recorded_day import RecordedDay, record

from config import Settings


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordedDay]:
    """Read-only for tests: the recorded day in a data directory of the module's own."""
    settings = Settings.from_env({}, data_dir=Path(tmp_path_factory.mktemp("day")))
    day = record(settings)
    yield day
    day.stores.close()
