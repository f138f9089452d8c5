"""``make bootstrap`` against a stack: its outputs read from CloudFormation (the moto
server), its tables on DynamoDB Local. The key it prints opens the API function of a stack
that serves no one without a key, and the airports it loaded are there."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devtools.dynamodb_local import DynamoDBLocal
from runtime import lambdas
from scripts import bootstrap
from testkit import FIXTURES

if TYPE_CHECKING:
    from moto_server import MotoServer

    from storage.dynamodb import DynamoNames

pytest_plugins = ["moto_server"]
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.usefixtures("mangum_loops_closed"),
]

QUERY = '{ airport(code: "LHR") { icao name } flights(first: 1) { totalCount } }'


class _Context:
    function_name = "flightdata"
    aws_request_id = "8e3f6c1a-2b4d-4f5e-9a7b-1c2d3e4f5a6b"


@pytest.fixture(autouse=True)
def _environment_restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``bootstrap.main`` sets the stack's settings in the environment of its process, as
    ``make bootstrap`` wants; the tests after these must not inherit them (nor what
    ``monkeypatch`` would put back on top of them)."""
    saved = dict(os.environ)
    yield
    monkeypatch.undo()
    os.environ.clear()
    os.environ.update(saved)
    lambdas.reset_runtime()  # built on the stack's settings by the API test


@pytest.fixture
def stack(
    aws: MotoServer, dynamodb_local: DynamoDBLocal, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """A deployed stack's outputs, naming tables that exist (and are empty)."""
    tables = dynamodb_local.create(dynamodb_local.names(tmp_path))
    return _deployed(aws, dynamodb_local, tables, monkeypatch, tmp_path)


@pytest.fixture
def seeded_stack(
    aws: MotoServer,
    dynamodb_local: DynamoDBLocal,
    dynamo_tables: DynamoNames,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> dict[str, str]:
    """A stack whose airports are loaded already."""
    return _deployed(aws, dynamodb_local, dynamo_tables, monkeypatch, tmp_path)


def _deployed(
    aws: MotoServer,
    dynamodb_local: DynamoDBLocal,
    tables: DynamoNames,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> dict[str, str]:
    outputs = {
        "FlightsTableName": tables.flights,
        "AirportsTableName": tables.airports,
        "OpsTableName": tables.ops,
        "StorageBucketName": "flightdata-storage-test",
        "HttpApiUrl": "https://api123.execute-api.eu-west-1.amazonaws.com",
    }
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    aws.cloudformation().create_stack(
        StackName=bootstrap.stack_name("test"), TemplateBody=json.dumps(template)
    )
    for name, value in {
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        "DYNAMODB_ENDPOINT_URL": dynamodb_local.endpoint,
        # DynamoDB Local keeps tables per access key: the one its client made them with.
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "FLIGHTDATA_DATA_DIR": str(tmp_path / "data"),
    }.items():
        monkeypatch.setenv(name, value)
    for name in bootstrap.SETTINGS_OF_OUTPUTS.values():
        monkeypatch.delenv(name, raising=False)
    return outputs


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    with pytest.raises(SystemExit) as done:
        bootstrap.main(["--stage", "test", "--region", "eu-west-1", *args])
    assert done.value.code == 0
    return capsys.readouterr().out.splitlines()


def _api(key: str | None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(
        (FIXTURES / "events" / "apigw_http_v2_graphql_post.json").read_text()
    )
    event["body"] = json.dumps({"query": QUERY})
    if key is not None:
        event["headers"]["x-api-key"] = key
    return lambdas.LazyMangum()(event, _Context())


def test_bootstrap_loads_the_airports_and_prints_a_key_that_opens_the_api(
    stack: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    printed = _run(capsys)
    again = _run(capsys)

    key = printed[-1]
    assert key.startswith("fd_")
    assert f"bootstrap: HttpApiUrl {stack['HttpApiUrl']}" in printed
    assert any(
        line.startswith("airports: ") and "loaded from airportsdata" in line for line in printed
    )
    assert again[-1].startswith("an active admin key exists")
    assert key not in "\n".join(again)

    # The API function as the stack configures it: no request without a key.
    monkeypatch.setenv("FLIGHTDATA_ANONYMOUS", "false")
    for name, setting in bootstrap.SETTINGS_OF_OUTPUTS.items():
        monkeypatch.setenv(setting, stack[name])
    monkeypatch.setenv("FLIGHTDATA_BACKEND", "aws")
    lambdas.reset_runtime()
    assert _api(None)["statusCode"] == 401
    answer = _api(key)
    assert answer["statusCode"] == 200
    data = json.loads(answer["body"])["data"]
    assert data["airport"] == {"icao": "EGLL", "name": "London Heathrow Airport"}


@pytest.mark.usefixtures("seeded_stack")
def test_new_key_issues_another(capsys: pytest.CaptureFixture[str]) -> None:
    first = _run(capsys)[-1]
    second = _run(capsys, "--new-key")[-1]

    assert first.startswith("fd_")
    assert second.startswith("fd_")
    assert first != second


def test_a_stack_without_the_outputs_is_named(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"StorageBucketName": {"Value": "b"}},
    }
    aws.cloudformation().create_stack(
        StackName=bootstrap.stack_name("old"), TemplateBody=json.dumps(template)
    )

    with pytest.raises(SystemExit) as refused:
        bootstrap.main(["--stage", "old", "--region", "eu-west-1"])

    assert "AirportsTableName, FlightsTableName, OpsTableName" in str(refused.value.code)
    assert "make deploy" in str(refused.value.code)


def test_an_unreachable_account_is_said_plainly(
    aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.dead_endpoint())
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    with pytest.raises(SystemExit) as refused:
        bootstrap.main(["--stage", "test", "--region", "eu-west-1"])

    assert str(refused.value.code).startswith("bootstrap: cannot read the stack flightdata-test")
