"""Fixtures shared by the whole suite: settings, stores per backend, a seeded airport file,
a replayed world, and an HTTP client that runs the app's lifespan. Every test starts
without boto3's default session and ends with no event loop left open.

Backends: each store fixture is parametrised by ``BACKENDS``; a new backend (DynamoDB Local,
Redis) is one more name there and one more branch in ``_open_backend``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import Runtime, create_app
from config import Settings
from devtools.dynamodb_local import DynamoDBLocal
from devtools.dynamodb_local import start as start_dynamodb_local
from ingestion.reference import seed_airports
from ingestion.replay import ReplaySource, load_snapshot
from ingestion.validate import validate
from runtime.ingest import build_pipeline
from runtime.stores import open_stores
from storage.archive import LocalArchive
from storage.base import AirportRepository, DeadLetterRepository, FlightRepository
from storage.dynamodb import AirportIndex, DynamoNames, open_dynamo_stores
from storage.stores import Stores
from testkit import ReplayWorld, SteppedClock, TestClient, close_leftover_event_loop

BACKENDS = ["sqlite", "dynamodb"]


@pytest.fixture(autouse=True)
def _own_boto3_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3's default session keeps the credentials it first resolved, and DynamoDB Local
    keeps tables per access key: a session made under one test's keys (a stub's, the moto
    server's) goes with that test, not on to the tests after it."""
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


def _open_backend(
    backend: str, settings: Settings, request: pytest.FixtureRequest, *, seeded: bool = False
) -> Stores:
    if backend == "sqlite":
        return open_stores(settings)
    if backend == "dynamodb":
        return _open_dynamodb(settings, request, seeded=seeded)
    raise AssertionError(f"no test wiring for backend {backend!r}")


def _open_dynamodb(settings: Settings, request: pytest.FixtureRequest, *, seeded: bool) -> Stores:
    """Tables of the test's own, named after its data directory so that reopening finds
    them again; a seeded test shares the session's read-only seeded airports table."""
    local: DynamoDBLocal = request.getfixturevalue("dynamodb_local")
    names = local.names(settings.data_dir)
    index = None
    if seeded:
        airports, index = request.getfixturevalue("dynamodb_seeded_airports")
        names = dataclasses.replace(names, airports=airports)
    local.create(names)
    dynamo = open_dynamo_stores(local.client, names, airport_index=index)
    return dynamo.stores(LocalArchive(settings.data_dir))


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    """DynamoDB Local for the session (or ``DYNAMODB_ENDPOINT``); fails if it cannot start."""
    local = start_dynamodb_local()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def dynamodb_seeded_airports(dynamodb_local: DynamoDBLocal) -> tuple[str, AirportIndex]:
    """An airports table holding the airportsdata airports, and one index of it to share."""
    names = dynamodb_local.create(DynamoNames.prefixed("seeded"))
    stores = open_dynamo_stores(dynamodb_local.client, names)
    try:
        assert seed_airports(stores) > 20_000  # type: ignore[arg-type]
    finally:
        stores.close()
    return names.airports, AirportIndex()


@pytest.fixture
def dynamo_tables(
    dynamodb_local: DynamoDBLocal,
    dynamodb_seeded_airports: tuple[str, AirportIndex],
    tmp_path: Path,
) -> DynamoNames:
    """This test's own tables on DynamoDB Local, but for the session's read-only seeded
    airports table (seeding one takes DynamoDB Local about 10 s)."""
    names = dynamodb_local.names(tmp_path)
    return dynamodb_local.create(dataclasses.replace(names, airports=dynamodb_seeded_airports[0]))


def _copy_seeded(seeded_db: Path, settings: Settings) -> Settings:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(seeded_db, settings.database_path)
    return settings


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the airportsdata airports and nothing else; copy, never open."""
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("seeded"))
    stores = open_stores(settings)
    try:
        assert seed_airports(stores) > 20_000
    finally:
        stores.close()
    return settings.database_path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path / "data")


@pytest.fixture
def seeded_settings(settings: Settings, seeded_db: Path) -> Settings:
    """``settings`` whose data directory already holds the seeded airports."""
    return _copy_seeded(seeded_db, settings)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The repository contract tests (``tests/storage/``) run on every backend; the rest
    of the suite, which only needs a working store, on the embedded one."""
    if "backend" in metafunc.fixturenames:
        contract = metafunc.definition.path.parent.name == "storage"
        metafunc.parametrize("backend", BACKENDS if contract else ["sqlite"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_backend(
    backend: str, settings: Settings, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Stores]]:
    """Opens (and reopens, to simulate a restart) the stores of ``settings`` on ``backend``."""
    opened: list[Stores] = []

    def open_() -> Stores:
        stores = _open_backend(backend, settings, request)
        opened.append(stores)
        return stores

    yield open_
    for stores in opened:
        stores.close()


@pytest.fixture
def stores(open_backend: Callable[[], Stores]) -> Stores:
    return open_backend()


@pytest.fixture
def flight_repo(stores: Stores) -> FlightRepository:
    return stores.flights


@pytest.fixture
def dead_letter_repo(stores: Stores) -> DeadLetterRepository:
    return stores.dead_letters


@pytest.fixture
def seeded_stores(
    backend: str, seeded_settings: Settings, request: pytest.FixtureRequest
) -> Iterator[Stores]:
    stores = _open_backend(backend, seeded_settings, request, seeded=True)
    yield stores
    stores.close()


@pytest.fixture
def airport_repo(seeded_stores: Stores) -> AirportRepository:
    return seeded_stores.airports


@pytest.fixture
def client(seeded_settings: Settings) -> Iterator[TestClient]:
    """The app (no ingest loop) over seeded airports and no flights, lifespan running."""
    with TestClient(create_app(seeded_settings, ingest=False)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def replay_world(
    tmp_path_factory: pytest.TempPathFactory, seeded_db: Path
) -> Iterator[ReplayWorld]:
    """Read-only for tests: the replay snapshot ingested twice, served over HTTP."""
    settings = _copy_seeded(
        seeded_db, Settings.from_env({}, data_dir=tmp_path_factory.mktemp("world"))
    )
    app = create_app(settings, ingest=False)
    runtime: Runtime = app.state.runtime
    now = datetime.now(UTC).timestamp()
    source = ReplaySource(load_snapshot(), clock=SteppedClock(now - 10.0, now))
    pipeline = build_pipeline(settings, runtime.stores, None)
    payloads = [source.advance() for _ in "12"]
    reports = [pipeline.process(source.name, p, source.normalise) for p in payloads]
    # An aircraft is missing from the live view only when every cycle rejected it.
    rejected = []
    for payload in payloads:
        normalised = source.normalise(payload)
        _, bad = validate(normalised.candidates, observed_at=normalised.observed_at)
        rejected.append({r.raw[0] for r in bad if r.raw[5] is not None and r.raw[6] is not None})
    with TestClient(app) as test_client:
        yield ReplayWorld(test_client, runtime, reports, len(set.intersection(*rejected)))


@pytest.fixture
def mangum_loops_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every event loop made during the test, closed after it: Mangum makes one for the
    life of a Lambda container and never closes it."""
    made: list[asyncio.AbstractEventLoop] = []
    real = asyncio.new_event_loop

    def tracked() -> asyncio.AbstractEventLoop:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(asyncio, "new_event_loop", tracked)
    yield
    asyncio.set_event_loop(None)
    for loop in made:
        loop.close()


@pytest.fixture(autouse=True)
def _no_leftover_event_loop() -> Iterator[None]:
    """Whatever a test leaves as the main thread's event loop (Mangum's) is closed here,
    not collected unclosed during some later test."""
    yield
    close_leftover_event_loop()
