"""What runtime.ingest builds from the settings: the local file retention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from config import Settings
from runtime.ingest import build_retention
from runtime.stores import open_stores
from storage.archive import LocalArchive


def test_the_embedded_default_prunes_its_local_files(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"FLIGHTDATA_RAW_DAYS": "2", "FLIGHTDATA_PROCESSED_DAYS": "30"}, data_dir=tmp_path
    )
    retention = build_retention(settings, open_stores(settings))
    assert retention is not None
    assert isinstance(retention.archive, LocalArchive)
    assert retention.archive.root == tmp_path
    assert retention.processed_root == tmp_path
    assert (retention.raw, retention.processed) == (timedelta(days=2), timedelta(days=30))
