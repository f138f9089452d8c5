"""Day one: the airports loaded and the first admin key issued, once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cli import main
from config import Settings
from runtime.bootstrap import FIRST_KEY_NAME, bootstrap
from runtime.services import key_service
from runtime.stores import open_stores
from security.keys import hash_key
from storage.stores import Stores
from testkit import FIXTURES


@pytest.fixture
def stores(settings: Settings) -> Iterator[Stores]:
    opened = open_stores(settings)
    yield opened
    opened.close()


def test_a_new_deployment_gets_the_airports_and_one_admin_key(
    settings: Settings, stores: Stores
) -> None:
    report = bootstrap(settings, stores)

    assert report.airports_seeded > 20_000
    assert report.airports == report.airports_seeded
    assert stores.airports.by_icao("EGLL") is not None
    assert report.issued is not None
    assert report.admin_keys == []
    [stored] = key_service(settings, stores).list()
    assert stored.name == FIRST_KEY_NAME
    assert "admin" in stored.scopes
    assert stored.key_hash == hash_key(report.issued.key)


def test_a_second_run_loads_nothing_and_issues_no_second_key(
    settings: Settings, stores: Stores
) -> None:
    first = bootstrap(settings, stores)
    again = bootstrap(settings, stores)

    assert again.airports_seeded == 0
    assert again.airports == first.airports
    assert again.issued is None
    assert first.issued is not None
    assert [k.key_id for k in again.admin_keys] == [first.issued.record.key_id]
    assert len(key_service(settings, stores).list()) == 1


def test_another_key_is_issued_when_asked_or_when_no_admin_key_is_active(
    settings: Settings, stores: Stores
) -> None:
    first = bootstrap(settings, stores)
    asked = bootstrap(settings, stores, new_key=True)
    assert first.issued is not None
    assert asked.issued is not None
    service = key_service(settings, stores)
    for key in service.list():
        service.revoke(key.key_id)
    service.create("reader", scope="read")

    after_revoking = bootstrap(settings, stores)

    assert after_revoking.issued is not None
    assert after_revoking.admin_keys == []
    active = [k for k in service.list() if k.status(time.time()) == "active"]
    assert sorted(k.name for k in active) == [FIRST_KEY_NAME, "reader"]


def test_ourairports_files_are_loaded_over_the_offline_list(
    settings: Settings, stores: Stores
) -> None:
    report = bootstrap(
        settings,
        stores,
        airports_csv=str(FIXTURES / "ourairports_airports_head300.csv"),
        runways_csv=str(FIXTURES / "ourairports_runways_head300.csv"),
    )

    assert report.ourairports is not None
    assert report.ourairports.airports_loaded > 100
    assert report.ourairports.runways_loaded > 0
    assert report.airports >= report.airports_seeded


def test_the_command_prints_the_key_once_on_its_last_line(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLIGHTDATA_DATA_DIR", str(settings.data_dir))

    with pytest.raises(SystemExit) as first:
        main(["bootstrap"])
    key = capsys.readouterr().out.splitlines()[-1]
    with pytest.raises(SystemExit) as second:
        main(["bootstrap"])
    again = capsys.readouterr().out

    assert (first.value.code, second.value.code) == (0, 0)
    assert key.startswith("fd_")
    assert key not in again
    assert again.splitlines()[-1].startswith("an active admin key exists")
    stores = open_stores(settings)
    try:
        [stored] = stores.api_keys.list()
    finally:
        stores.close()
    assert stored.key_hash == hash_key(key)


def test_runways_without_airports_are_refused(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["bootstrap", "--data-dir", str(settings.data_dir), "--runways", "runways.csv"])

    assert refused.value.code == 2
    assert "--runways needs --airports" in capsys.readouterr().err
