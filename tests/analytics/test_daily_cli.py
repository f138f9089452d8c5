"""``flightdata analytics daily``: a past day's documents from the data directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from recorded_day import DAY, RecordedDay

import cli


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``cli`` exports its flags to ``os.environ``; each test gets its environment back."""
    saved = dict(os.environ)
    monkeypatch.delenv("FLIGHTDATA_DATA_DIR", raising=False)
    yield
    os.environ.clear()
    os.environ.update(saved)


def run(*argv: str) -> int:
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
    code = exc.value.code
    assert isinstance(code, int)
    return code


def test_daily_writes_the_documents_of_a_day(
    recorded: RecordedDay, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = recorded.settings.data_dir

    code = run("analytics", "daily", "--date", DAY.isoformat(), "--data-dir", str(data_dir))

    out = capsys.readouterr().out
    assert code == 0
    states = sum(1 for r in recorded.parquet_rows() if r["time"].date() == DAY)  # type: ignore[attr-defined]
    assert out.startswith(f"2026-11-20: {states:,} states of ")
    assert "3 cycles" in out
    for key in (
        "processed/flights/aggregates/daily/2026-11-20-summary.json",
        "processed/analytics/traffic-density/2026-11-20.json",
        "processed/analytics/route-statistics/2026-11-20.json",
    ):
        assert f"wrote {key}\n" in out
        assert (data_dir / key).is_file()


def test_daily_defaults_to_yesterday(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()

    assert run("analytics", "daily", "--data-dir", str(tmp_path)) == 0

    out = capsys.readouterr().out
    assert out.startswith(f"{yesterday}: 0 states of 0 aircraft")
    assert (tmp_path / f"processed/flights/aggregates/daily/{yesterday}-summary.json").is_file()


def test_daily_refuses_a_day_not_over_and_a_bad_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    today = datetime.now(UTC).date().isoformat()

    assert run("analytics", "daily", "--date", today, "--data-dir", str(tmp_path)) == 2
    assert f"{today} is not over yet" in capsys.readouterr().err
    assert run("analytics", "daily", "--date", "20/11/2026") == 2
    assert "not a day such as 2026-11-26" in capsys.readouterr().err
