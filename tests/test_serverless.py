"""serverless.yml against the architecture: tables, functions, queues, bucket, IAM, alarms.

The file is read as YAML, not through osls (``.ci/package-check`` packages it and runs
cfn-lint on the result). ``${...}`` variables stay plain strings; CloudFormation's short
tags (``!Ref``, ``!GetAtt``, ``!Sub``, ...) become their long form, as osls makes them.
"""

from __future__ import annotations

import ast
import json
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from starlette.routing import Mount, Route, WebSocketRoute

from app import create_app
from config import Settings
from domain.events import EVENT_TYPES
from domain.geo import REGIONS
from scripts import bootstrap, build_lambda, deploy_dashboard
from storage.dynamodb.tables import CONNECTIONS
from storage.processed import SCHEMA, partition

ROOT = Path(__file__).resolve().parent.parent


class _CloudFormationLoader(yaml.SafeLoader):
    """A safe loader that also reads CloudFormation's short-form intrinsic tags."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


@pytest.fixture(scope="module")
def sls() -> dict[str, Any]:
    text = (ROOT / "serverless.yml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.load(text, Loader=_CloudFormationLoader)
    return loaded


@pytest.fixture(scope="module")
def resources(sls: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = sls["resources"]["Resources"]
    return found


def _props(resources: dict[str, Any], name: str) -> dict[str, Any]:
    props: dict[str, Any] = resources[name]["Properties"]
    return props


def _function(sls: dict[str, Any], name: str) -> dict[str, Any]:
    function: dict[str, Any] = sls["functions"][name]
    return function


def _logical_id(function: str) -> str:
    """osls's name for a function's resources: ``flight-data-fetcher`` ->
    ``FlightDashdataDashfetcher``."""
    name = function.replace("-", "Dash").replace("_", "Underscore")
    return name[0].upper() + name[1:]


def _generated(sls: dict[str, Any]) -> set[str]:
    """Logical ids that osls adds to the template and serverless.yml may refer to."""
    ids = {"HttpApi", "HttpApiStage", "ServerlessDeploymentBucket"}
    if any("websocket" in e for f in sls["functions"].values() for e in f.get("events", [])):
        ids.add("WebsocketsApi")
    for function in sls["functions"]:
        base = _logical_id(function)
        ids |= {f"{base}LambdaFunction", f"{base}LogGroup"}
    return ids


def _refs(node: Any) -> set[str]:
    """Names that ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub``'s ``${...}`` point at."""
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in node.items():
        if key == "Ref":
            found.add(value)
        elif key == "Fn::GetAtt":
            found.add(value[0])
        elif key == "Fn::Sub" and isinstance(value, str):
            found |= {m.split(".")[0] for m in re.findall(r"\$\{([A-Za-z0-9.]+)\}", value)}
        found |= _refs(value)
    return found


def _statements(resources: dict[str, Any], role: str) -> list[dict[str, Any]]:
    statements = []
    for policy in _props(resources, role)["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:  # granted only under a condition (X-Ray)
                statement = statement["Fn::If"][1]
            statements.append(statement)
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _resources_of(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


# ---------------------------------------------------------------- DynamoDB


def test_flights_table_matches_the_architecture(resources: dict[str, Any]) -> None:
    table = _props(resources, "FlightsTable")

    assert table["TableName"] == "${self:service}-flights-${sls:stage}"
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "icao24", "AttributeType": "S"},
        {"AttributeName": "region_time", "AttributeType": "S"},
        {"AttributeName": "timestamp", "AttributeType": "N"},
    ]
    assert table["KeySchema"] == [
        {"AttributeName": "icao24", "KeyType": "HASH"},
        {"AttributeName": "timestamp", "KeyType": "RANGE"},
    ]
    assert table["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "RegionTimeIndex",
            "KeySchema": [
                {"AttributeName": "region_time", "KeyType": "HASH"},
                {"AttributeName": "timestamp", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_airports_table_matches_the_architecture(resources: dict[str, Any]) -> None:
    table = _props(resources, "AirportsTable")

    assert table["TableName"] == "${self:service}-airports-${sls:stage}"
    assert table["KeySchema"] == [{"AttributeName": "icao_code", "KeyType": "HASH"}]
    assert table["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "CountryRegionIndex",
            "KeySchema": [{"AttributeName": "country_region", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": "IataCodeIndex",
            "KeySchema": [{"AttributeName": "iata_code", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        },
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
        "icao_code": "S",
        "country_region": "S",
        "iata_code": "S",
    }
    assert table["BillingMode"] == "PAY_PER_REQUEST"


def test_ops_table_is_a_pay_per_request_single_table(resources: dict[str, Any]) -> None:
    table = _props(resources, "OpsTable")

    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"


@pytest.mark.parametrize("table", ["FlightsTable", "AirportsTable", "OpsTable", "ConnectionsTable"])
def test_table_defines_exactly_the_attributes_its_keys_use(
    resources: dict[str, Any], table: str
) -> None:
    # DynamoDB refuses a definition that no key schema uses.
    props = _props(resources, table)
    indexes = props.get("GlobalSecondaryIndexes", [])
    schemas = [props["KeySchema"], *(index["KeySchema"] for index in indexes)]
    used = {key["AttributeName"] for schema in schemas for key in schema}

    assert {a["AttributeName"] for a in props["AttributeDefinitions"]} == used


def test_every_table_has_point_in_time_recovery(resources: dict[str, Any]) -> None:
    tables = [n for n, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"]

    assert len(tables) == 4
    for table in tables:
        spec = _props(resources, table)["PointInTimeRecoverySpecification"]
        assert spec == {"PointInTimeRecoveryEnabled": True}, table


def test_tables_that_nothing_rebuilds_are_backed_up_daily(
    sls: dict[str, Any], resources: dict[str, Any]
) -> None:
    plan = _props(resources, "BackupPlan")["BackupPlan"]
    selection = _props(resources, "BackupSelection")["BackupSelection"]
    rules = {r["RuleName"]: r for r in plan["BackupPlanRule"]}

    assert rules["daily"]["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert rules["daily"]["Lifecycle"]["DeleteAfterDays"] >= 35
    assert rules["monthly"]["Lifecycle"]["DeleteAfterDays"] == 365
    assert {"Fn::GetAtt": ["OpsTable", "Arn"]} in selection["Resources"]  # the API keys
    assert selection["IamRoleArn"] == {"Fn::GetAtt": ["BackupRole", "Arn"]}
    for name in ("BackupVault", "BackupPlan", "BackupSelection", "BackupRole"):
        assert resources[name]["Condition"] == "HasBackups"
    assert resources["BackupVault"]["DeletionPolicy"] == "Retain"
    assert sls["params"]["default"]["backups"] == "true"
    assert sls["params"]["dev"]["backups"] == sls["params"]["ci"]["backups"] == "false"


@pytest.mark.parametrize("name", ["FlightsTable", "AirportsTable", "OpsTable", "StorageBucket"])
def test_stateful_resources_state_what_happens_on_delete(
    resources: dict[str, Any], name: str
) -> None:
    assert resources[name]["DeletionPolicy"] == "${param:dataRetention}"
    assert resources[name]["UpdateReplacePolicy"] == "${param:dataRetention}"


def test_connections_table_is_the_handlers_and_goes_with_the_stack(
    resources: dict[str, Any],
) -> None:
    table = _props(resources, "ConnectionsTable")

    assert table["TableName"] == "${self:service}-connections-${sls:stage}"
    assert table["KeySchema"] == [{"AttributeName": a, "KeyType": k} for a, k in CONNECTIONS.key]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": a, "AttributeType": t} for a, t in CONNECTIONS.attributes
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert "GlobalSecondaryIndexes" not in table
    # Connections last two hours at most: nothing to keep when the stack goes.
    assert resources["ConnectionsTable"]["DeletionPolicy"] == "Delete"


def test_data_is_retained_unless_a_throwaway_stage_says_otherwise(sls: dict[str, Any]) -> None:
    params = sls["params"]

    assert params["default"]["dataRetention"] == "Retain"
    assert {stage for stage, values in params.items() if "dataRetention" in values} == {
        "default",
        "dev",
        "ci",
    }


# ---------------------------------------------------------------- functions


def test_functions_have_the_architecture_sizes(sls: dict[str, Any]) -> None:
    sizes = {
        name: (f["handler"], f["memorySize"], f["timeout"]) for name, f in sls["functions"].items()
    }

    assert sizes == {
        "flight-data-fetcher": ("runtime/lambdas.fetcher", 512, 300),
        "flight-data-processor": ("runtime/lambdas.processor", 1024, 900),
        "flight-api-handler": ("app.handler", 256, 30),
        "analytics-processor": ("runtime/lambdas.analytics", 1024, 900),
        "websocket-handler": ("runtime/lambdas.websocket", 512, 60),
        "appsync-resolver": ("runtime/appsync_lambdas.resolver", 256, 30),
        "appsync-authorizer": ("runtime/appsync_lambdas.authorizer", 256, 10),
        "appsync-publisher": ("runtime/appsync_lambdas.publisher", 512, 60),
    }
    assert sls["provider"]["runtime"] == "python3.11"
    assert sls["provider"]["architecture"] == "x86_64"


def test_api_handler_concurrency(sls: dict[str, Any]) -> None:
    api = _function(sls, "flight-api-handler")

    assert api["reservedConcurrency"] == 100
    assert api["provisionedConcurrency"] == 10
    assert api["provisionedConcurrency"] <= api["reservedConcurrency"]


# Paths of the app that the HTTP API leaves out: CloudFront serves the dashboard's page and
# assets from S3, and /metrics is one container's Prometheus text (EMF goes to CloudWatch).
NOT_ROUTED = {"/", "/assets/{proxy+}", "/metrics"}


def _app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(method, path) of every HTTP route of the app, a mount as ``{proxy+}`` below it."""
    app = create_app(Settings.from_env({}, data_dir=tmp_path), ingest=False)
    routes: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            continue  # the WebSocket API serves subscriptions
        if isinstance(route, Mount):
            routes.add(("GET", f"{route.path}/{{proxy+}}"))
        else:
            assert isinstance(route, Route), route
            routes |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
    app.state.runtime.stores.close()
    return routes


def _covers(routed: tuple[str, str], route: tuple[str, str]) -> bool:
    (method, path), (wanted_method, wanted) = routed, route
    if method != wanted_method:
        return False
    if path.endswith("/{proxy+}"):
        return wanted.startswith(path.removesuffix("{proxy+}"))
    return path == wanted


def test_every_route_of_the_app_is_routed_by_the_http_api(
    sls: dict[str, Any], tmp_path: Path
) -> None:
    routed = {(e["method"], e["path"]) for e in _events(sls, "httpApi")}
    app = {r for r in _app_routes(tmp_path) if r[1] not in NOT_ROUTED}

    assert {"/v1/flights", "/api/states/all", "/readyz", "/config.json"} <= {p for _, p in app}
    assert {r for r in app if not any(_covers(h, r) for h in routed)} == set()
    # Nor a route the app does not serve.
    assert {h for h in routed if not any(_covers(h, r) for r in app)} == set()
    assert {
        f
        for f, spec in sls["functions"].items()
        if any("httpApi" in e for e in spec.get("events", []))
    } == {"flight-api-handler"}


def _events(sls: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e[kind] for f in sls["functions"].values() for e in f.get("events", []) if kind in e]


def test_processor_reads_the_queue_in_batches_with_partial_failures(sls: dict[str, Any]) -> None:
    (event,) = _function(sls, "flight-data-processor")["events"]

    assert event["sqs"] == {
        "arn": {"Fn::GetAtt": ["ProcessingQueue", "Arn"]},
        "batchSize": 10,
        "functionResponseType": "ReportBatchItemFailures",
    }


def test_fetcher_runs_alone_and_drops_stale_slots(sls: dict[str, Any]) -> None:
    fetcher = _function(sls, "flight-data-fetcher")

    assert "events" not in fetcher  # the FetchSchedule state machine invokes it
    assert fetcher["reservedConcurrency"] == 1
    assert fetcher["maximumEventAge"] == 60
    assert fetcher["maximumRetryAttempts"] == 0


def test_analytics_runs_daily(sls: dict[str, Any]) -> None:
    (event,) = _function(sls, "analytics-processor")["events"]

    assert re.fullmatch(r"cron\(\d+ \d+ \* \* \? \*\)", event["schedule"]["rate"])


def test_websocket_handler_serves_the_three_routes_and_the_fan_out(
    sls: dict[str, Any], resources: dict[str, Any]
) -> None:
    handler = _function(sls, "websocket-handler")
    rule = _props(resources, "WebsocketFanOutRule")
    permission = _props(resources, "WebsocketFanOutPermission")
    function = {"Fn::GetAtt": ["WebsocketDashhandlerLambdaFunction", "Arn"]}

    assert sorted(e["websocket"]["route"] for e in handler["events"]) == [
        "$connect",
        "$default",
        "$disconnect",
    ]
    assert handler["environment"]["DYNAMODB_CONNECTIONS_TABLE"] == {"Ref": "ConnectionsTable"}
    endpoint = handler["environment"]["WEBSOCKET_API_ENDPOINT"]["Fn::Sub"]
    assert endpoint.startswith("https://${WebsocketsApi}.execute-api.")
    assert endpoint.endswith("/${sls:stage}")
    # Out of the VPC: it must reach the management API and needs no Redis.
    assert handler["environment"]["REDIS_CLUSTER_ENDPOINT"] == ""
    assert rule["EventPattern"]["detail-type"] == ["FlightDataProcessed"]
    assert [t["Arn"] for t in rule["Targets"]] == [function]
    assert rule["Targets"][0]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    assert (handler["maximumRetryAttempts"], handler["maximumEventAge"]) == (0, 60)
    assert permission["FunctionName"] == function
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["WebsocketFanOutRule", "Arn"]}


def _defined_names(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


# Declared ahead of their code (the analytics issue writes it).
def test_handlers_name_code_that_exists(sls: dict[str, Any]) -> None:
    for function in sls["functions"].values():
        module, _, attribute = function["handler"].rpartition(".")
        path = ROOT / f"{module}.py"
        assert path.is_file(), function["handler"]
        assert attribute in _defined_names(path), function["handler"]


def test_environment_carries_the_settings(sls: dict[str, Any]) -> None:
    environment = sls["provider"]["environment"]

    assert {
        "FLIGHTDATA_BACKEND",
        "DYNAMODB_FLIGHTS_TABLE",
        "DYNAMODB_AIRPORTS_TABLE",
        "DYNAMODB_OPS_TABLE",
        "S3_RAW_BUCKET",
        "PROCESSING_QUEUE_URL",
        "EVENTBRIDGE_BUS_NAME",
        "REDIS_CLUSTER_ENDPOINT",
        "OPENSKY_API_URL",
        "CORS_ORIGINS",
        "MAX_PAGE_SIZE",
        "FLIGHTDATA_SSM_PREFIX",
    } <= set(environment)
    assert environment["FLIGHTDATA_BACKEND"] == "aws"
    assert environment["MAX_PAGE_SIZE"] == "1000"
    assert environment["FLIGHTDATA_INGEST"] == "false"
    assert environment["DYNAMODB_FLIGHTS_TABLE"] == {"Ref": "FlightsTable"}
    assert environment["PROCESSING_QUEUE_URL"] == {"Ref": "ProcessingQueue"}
    assert environment["FLIGHTDATA_SSM_PREFIX"] == "/${self:service}/${sls:stage}"
    # Lambda takes strings only.
    assert all(isinstance(v, str | dict) for v in environment.values())


# ---------------------------------------------------------------- queues, bucket, events


def test_queue_redrives_to_the_dead_letter_queue_after_three_receives(
    resources: dict[str, Any],
) -> None:
    queue = _props(resources, "ProcessingQueue")

    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ProcessingDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 3,
    }
    assert _props(resources, "ProcessingDeadLetterQueue")["MessageRetentionPeriod"] == 14 * 86400


def test_queue_visibility_is_six_times_the_processor_timeout(
    sls: dict[str, Any], resources: dict[str, Any]
) -> None:
    timeout = _function(sls, "flight-data-processor")["timeout"]

    assert _props(resources, "ProcessingQueue")["VisibilityTimeout"] >= 6 * timeout


def test_bucket_is_encrypted_private_and_tiered(resources: dict[str, Any]) -> None:
    bucket = _props(resources, "StorageBucket")

    assert bucket["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]
    }
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {r.get("Prefix"): r for r in bucket["LifecycleConfiguration"]["Rules"]}
    by_id = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert "Prefix" not in by_id["expire-old-versions"]  # the whole bucket
    assert by_id["expire-old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert by_id["expire-old-versions"]["ExpiredObjectDeleteMarker"] is True
    assert rules["raw/"]["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
        {"StorageClass": "GLACIER", "TransitionInDays": 90},
    ]
    assert rules["raw/"]["ExpirationInDays"] == 365
    assert rules["processed/"]["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 90}
    ]
    assert "ExpirationInDays" not in rules["processed/"]
    assert all(r["Status"] == "Enabled" for r in rules.values())


# ---------------------------------------------------------------- the dashboard

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CloudFront managed policies
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def test_dashboard_bucket_is_private_and_encrypted(resources: dict[str, Any]) -> None:
    bucket = _props(resources, "DashboardBucket")

    assert bucket["BucketEncryption"] == _props(resources, "StorageBucket")["BucketEncryption"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "WebsiteConfiguration" not in bucket  # served by CloudFront only, not S3 websites
    # Rebuilt by every deploy: nothing to keep when the stack goes.
    assert resources["DashboardBucket"]["DeletionPolicy"] == "Delete"


def test_dashboard_distribution_reads_the_bucket_through_origin_access_control(
    resources: dict[str, Any],
) -> None:
    config = _props(resources, "DashboardDistribution")["DistributionConfig"]
    oac = _props(resources, "DashboardOriginAccessControl")["OriginAccessControlConfig"]

    assert config["Enabled"] is True
    assert config["DefaultRootObject"] == "index.html"
    [origin] = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["DashboardBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["DashboardOriginAccessControl", "Id"]}
    # No legacy origin access identity beside the OAC.
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert oac["OriginAccessControlOriginType"] == "s3"
    assert oac["SigningBehavior"] == "always"
    assert oac["SigningProtocol"] == "sigv4"


def test_dashboard_page_is_never_cached_and_assets_are(resources: dict[str, Any]) -> None:
    config = _props(resources, "DashboardDistribution")["DistributionConfig"]
    default = config["DefaultCacheBehavior"]
    [assets] = config["CacheBehaviors"]

    # index.html and config.json: the default behaviour.
    assert default["CachePolicyId"] == CACHING_DISABLED
    assert assets["PathPattern"] == "assets/*"
    assert assets["CachePolicyId"] == CACHING_OPTIMIZED
    for behaviour in (default, assets):
        assert behaviour["TargetOriginId"] == config["Origins"][0]["Id"]
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
        assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
        assert behaviour["Compress"] is True


def test_dashboard_bucket_admits_only_its_distribution(resources: dict[str, Any]) -> None:
    policy = _props(resources, "DashboardBucketPolicy")
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    reads = statements["CloudFrontReadsThroughOac"]

    assert policy["Bucket"] == {"Ref": "DashboardBucket"}
    assert reads["Effect"] == "Allow"
    assert reads["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert reads["Action"] == "s3:GetObject"
    assert reads["Resource"] == {"Fn::Sub": "${DashboardBucket.Arn}/*"}
    assert reads["Condition"] == {
        "StringEquals": {
            "AWS:SourceArn": {
                "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}"
                ":distribution/${DashboardDistribution}"
            }
        }
    }
    assert statements["TlsOnly"]["Effect"] == "Deny"
    assert statements["TlsOnly"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(statements) == {"CloudFrontReadsThroughOac", "TlsOnly"}


def test_http_api_cors_admits_the_dashboard(sls: dict[str, Any]) -> None:
    cors = sls["resources"]["extensions"]["HttpApi"]["Properties"]["CorsConfiguration"]
    conditions = sls["resources"]["Conditions"]

    # Defined once: here, not also under provider.httpApi.cors (which this would replace).
    assert "cors" not in sls["provider"].get("httpApi", {})
    assert conditions["AnyCorsOrigin"] == {"Fn::Equals": [{"Ref": "CorsOrigin"}, "*"]}
    assert sls["resources"]["Parameters"]["CorsOrigin"]["Default"] == "${param:corsOrigin}"
    assert cors["AllowOrigins"] == {
        "Fn::If": [
            "AnyCorsOrigin",
            ["*"],
            [{"Ref": "CorsOrigin"}, {"Fn::Sub": "https://${DashboardDistribution.DomainName}"}],
        ]
    }
    assert {"X-Api-Key", "Content-Type"} <= set(cors["AllowHeaders"])
    assert {"GET", "POST", "OPTIONS"} == set(cors["AllowMethods"])
    assert {"Retry-After", "RateLimit-Remaining"} <= set(cors["ExposeHeaders"])


def test_the_deploy_script_finds_the_outputs_it_reads(sls: dict[str, Any]) -> None:
    outputs = sls["resources"]["Outputs"]

    assert sls["service"] == deploy_dashboard.SERVICE
    assert outputs["DashboardBucketName"] == {"Value": {"Ref": "DashboardBucket"}}
    assert outputs["DistributionId"] == {"Value": {"Ref": "DashboardDistribution"}}
    assert outputs["DashboardUrl"] == {
        "Value": {"Fn::Sub": "https://${DashboardDistribution.DomainName}"}
    }
    # HttpApiUrl is osls's own output of the HTTP API.
    read = set(deploy_dashboard.OUTPUTS.values())
    assert read - {"HttpApiUrl"} <= set(outputs)
    assert "HttpApiUrl" in read


def test_the_bootstrap_script_finds_the_outputs_it_reads(sls: dict[str, Any]) -> None:
    outputs = sls["resources"]["Outputs"]

    assert outputs["FlightsTableName"] == {"Value": {"Ref": "FlightsTable"}}
    assert outputs["AirportsTableName"] == {"Value": {"Ref": "AirportsTable"}}
    assert outputs["OpsTableName"] == {"Value": {"Ref": "OpsTable"}}
    assert outputs["StorageBucketName"] == {"Value": {"Ref": "StorageBucket"}}
    assert set(bootstrap.SETTINGS_OF_OUTPUTS) <= set(outputs)
    assert sls["service"] == bootstrap.SERVICE


def test_subscriptions_are_located_in_one_place(sls: dict[str, Any]) -> None:
    """The API's config.json and GraphiQL, and the deployed dashboard's config.json, name
    the same endpoint: the one ``custom.subscriptionUrl`` gives."""
    where = "${self:custom.subscriptionUrl}"
    api = _function(sls, "flight-api-handler")

    assert sls["custom"]["subscriptionUrl"]["Fn::Sub"].startswith("wss://")
    assert api["environment"]["FLIGHTDATA_SUBSCRIPTION_URL"] == where
    assert sls["resources"]["Outputs"]["SubscriptionUrl"] == {"Value": where}
    assert deploy_dashboard.OUTPUTS["websocket_url"] == "SubscriptionUrl"


def test_the_http_api_exposes_the_rate_limit_headers_the_app_sends(sls: dict[str, Any]) -> None:
    cors = sls["resources"]["extensions"]["HttpApi"]["Properties"]["CorsConfiguration"]

    assert {
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "Retry-After",
        "X-Rate-Limit-Remaining",
        "X-Rate-Limit-Retry-After-Seconds",
    } <= set(cors["ExposeHeaders"])


def test_every_event_type_has_a_rule(resources: dict[str, Any]) -> None:
    rules = [
        props
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule" and "EventPattern" in (props := r["Properties"])
    ]
    routed = {kind for rule in rules for kind in rule["EventPattern"]["detail-type"]}

    assert routed == {kind.detail_type for kind in EVENT_TYPES}
    assert all(rule["EventBusName"] == {"Ref": "EventBus"} for rule in rules)
    assert all(rule["EventPattern"]["source"] == ["flightdata"] for rule in rules)
    alerts = _props(resources, "AlertEventsRule")
    assert alerts["EventPattern"]["detail-type"] == ["DataQualityAlert", "RateLimitExceeded"]
    # An upstream's rate limit pages; the API refusing a client over its quota does not.
    assert alerts["EventPattern"]["detail"] == {"source": [{"anything-but": "api"}]}
    assert [t["Arn"] for t in alerts["Targets"]] == [{"Ref": "AlertsTopic"}]


def test_fetch_schedule_invokes_the_fetcher_every_30_seconds(resources: dict[str, Any]) -> None:
    rule = _props(resources, "FetchScheduleRule")
    machine = _props(resources, "FetchSchedule")
    states = machine["Definition"]["States"]
    fetcher = {"Fn::GetAtt": ["FlightDashdataDashfetcherLambdaFunction", "Arn"]}

    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["Targets"][0]["Arn"] == {"Ref": "FetchSchedule"}
    assert machine["StateMachineType"] == "EXPRESS"
    assert machine["DefinitionSubstitutions"] == {"FetcherArn": fetcher}
    order, state = [], machine["Definition"]["StartAt"]
    while True:
        order.append(state)
        if states[state].get("End"):
            break
        state = states[state]["Next"]
    assert [states[s]["Type"] for s in order] == ["Task", "Wait", "Task"]
    assert states[order[1]]["Seconds"] == 30
    for task in (states[order[0]], states[order[2]]):
        assert task["Resource"] == "arn:aws:states:::lambda:invoke"
        # Asynchronous: the slot at 30 s does not wait for the first fetch to end.
        assert task["Parameters"]["InvocationType"] == "Event"
        assert task["Parameters"]["FunctionName"] == "${FetcherArn}"


# ---------------------------------------------------------------- alarms


def test_api_alarm_fires_above_one_percent_5xx(resources: dict[str, Any]) -> None:
    alarm = _props(resources, "ApiErrorRateAlarm")
    metrics = {m["Id"]: m for m in alarm["Metrics"]}

    assert metrics["errors"]["MetricStat"]["Metric"]["MetricName"] == "5xx"
    assert metrics["requests"]["MetricStat"]["Metric"]["MetricName"] == "Count"
    for metric in ("errors", "requests"):
        stat = metrics[metric]["MetricStat"]
        assert stat["Metric"]["Namespace"] == "AWS/ApiGateway"
        assert stat["Metric"]["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}]
        assert stat["Stat"] == "Sum"
    (shown,) = [m for m in alarm["Metrics"] if m["ReturnData"]]
    assert "100 * errors / requests" in shown["Expression"]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 1)


@pytest.mark.parametrize(
    ("alarm", "metric", "dimension"),
    [
        (
            "DeadLetterQueueAlarm",
            "ApproximateNumberOfMessagesVisible",
            {"Fn::GetAtt": ["ProcessingDeadLetterQueue", "QueueName"]},
        ),
        ("ProcessorErrorsAlarm", "Errors", {"Ref": "FlightDashdataDashprocessorLambdaFunction"}),
        ("FetcherErrorsAlarm", "Errors", {"Ref": "FlightDashdataDashfetcherLambdaFunction"}),
    ],
)
def test_alarm_fires_on_the_first_occurrence(
    resources: dict[str, Any], alarm: str, metric: str, dimension: dict[str, Any]
) -> None:
    props = _props(resources, alarm)

    assert props["MetricName"] == metric
    assert props["Dimensions"][0]["Value"] == dimension
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


def test_stale_data_alarm_fires_on_old_or_missing_data(
    sls: dict[str, Any], resources: dict[str, Any]
) -> None:
    alarm = _props(resources, "StaleDataAlarm")

    # observability.emf.EmfWriter.data_age, from the processor (runtime.lambdas).
    assert (alarm["Namespace"], alarm["MetricName"]) == ("FlightData", "DataAgeSeconds")
    assert alarm["Dimensions"] == [{"Name": "Function", "Value": "processor"}]
    assert alarm["Statistic"] == "Minimum"
    assert alarm["Threshold"] == {"Ref": "StaleDataSeconds"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "breaching"
    assert int(sls["params"]["default"]["staleDataSeconds"]) <= 600


def test_fetch_failures_alarm_reads_the_fetchers_metric(resources: dict[str, Any]) -> None:
    alarm = _props(resources, "FetchFailuresAlarm")

    assert (alarm["Namespace"], alarm["MetricName"]) == ("FlightData", "FetchFailed")
    assert alarm["Dimensions"] == [{"Name": "Source", "Value": "${param:source}"}]
    assert alarm["Statistic"] == "Sum"
    # Ten fetches in five minutes: more than half of them failed.
    assert (alarm["Period"], alarm["Threshold"]) == (300, 5)


def test_api_latency_alarm_fires_above_500_ms_at_p95(resources: dict[str, Any]) -> None:
    alarm = _props(resources, "ApiLatencyAlarm")

    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/ApiGateway", "Latency")
    assert alarm["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}]
    assert alarm["ExtendedStatistic"] == "p95"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 500)


def test_cache_hit_ratio_alarm_fires_under_70_percent_with_redis(
    resources: dict[str, Any],
) -> None:
    alarm = _props(resources, "CacheHitRatioAlarm")
    metrics = {m["Id"]: m for m in alarm["Metrics"]}

    assert resources["CacheHitRatioAlarm"]["Condition"] == "HasRedis"
    for metric, name in (("hits", "CacheHits"), ("misses", "CacheMisses")):
        stat = metrics[metric]["MetricStat"]
        assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"]) == ("FlightData", name)
        assert stat["Metric"]["Dimensions"] == [{"Name": "Function", "Value": "api"}]
    (shown,) = [m for m in alarm["Metrics"] if m["ReturnData"]]
    assert "100 * hits / (hits + misses)" in shown["Expression"]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 70)


def test_dashboard_shows_what_the_alarms_watch(resources: dict[str, Any]) -> None:
    body = _props(resources, "OperationsDashboard")["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "0", body))["widgets"]
    shown = {
        name
        for widget in widgets
        for line in widget["properties"]["metrics"]
        for name in line
        if isinstance(name, str)
    }

    assert {"DataAgeSeconds", "FetchFailed", "Latency", "CacheHits", "CacheMisses", "5xx"} <= shown


def test_every_alarm_notifies_the_alerts_topic(resources: dict[str, Any]) -> None:
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]

    assert len(alarms) >= 3
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]
        assert alarm["AlarmName"].startswith("${self:service}-${sls:stage}-")


# ---------------------------------------------------------------- IAM

ROLES = {
    "flight-data-fetcher": "FetcherRole",
    "flight-data-processor": "ProcessorRole",
    "flight-api-handler": "ApiRole",
    "analytics-processor": "AnalyticsRole",
    "websocket-handler": "WebsocketRole",
    "appsync-resolver": "AppSyncQueryRole",
    "appsync-authorizer": "AppSyncAuthorizerRole",
    "appsync-publisher": "AppSyncPublisherRole",
}
# The only actions that take no resource ARN: X-Ray segments.
UNSCOPED_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_each_function_has_its_own_role(sls: dict[str, Any], resources: dict[str, Any]) -> None:
    roles = {name: f["role"] for name, f in sls["functions"].items()}

    assert roles == {name: {"Fn::GetAtt": [role, "Arn"]} for name, role in ROLES.items()}
    assert "iam" not in sls["provider"]  # no shared role for osls to make
    for role in ROLES.values():
        assume = _props(resources, role)["AssumeRolePolicyDocument"]["Statement"]
        assert [s["Principal"] for s in assume] == [{"Service": "lambda.amazonaws.com"}]


@pytest.mark.parametrize("role", sorted(ROLES.values()))
def test_role_names_a_resource_for_every_scoped_action(
    resources: dict[str, Any], role: str
) -> None:
    for statement in _statements(resources, role):
        assert statement["Effect"] == "Allow"
        assert not any(a.endswith("*") for a in _actions(statement)), statement
        if set(_actions(statement)) <= UNSCOPED_ACTIONS:
            continue
        assert "*" not in _resources_of(statement), statement


@pytest.mark.parametrize("role", sorted(ROLES.values()))
def test_role_writes_only_its_own_function_logs(resources: dict[str, Any], role: str) -> None:
    function = next(f for f, r in ROLES.items() if r == role)
    logs = [s for s in _statements(resources, role) if _actions(s)[0].startswith("logs:")]

    assert logs == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": [f"{_logical_id(function)}LogGroup", "Arn"]},
        }
    ]


def _grants(resources: dict[str, Any], role: str) -> dict[str, set[str]]:
    """Action -> the resources it is granted on, rendered as text."""
    grants: dict[str, set[str]] = {}
    for statement in _statements(resources, role):
        for action in _actions(statement):
            grants.setdefault(action, set()).update(map(str, _resources_of(statement)))
    return grants


def test_fetcher_role(resources: dict[str, Any]) -> None:
    grants = _grants(resources, "FetcherRole")

    assert set(grants) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:PutObject",
        "events:PutEvents",
        "sqs:SendMessage",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "ssm:GetParametersByPath",
        "kms:Decrypt",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert grants["s3:PutObject"] == {str({"Fn::Sub": "${StorageBucket.Arn}/raw/*"})}
    assert grants["sqs:SendMessage"] == {str({"Fn::GetAtt": ["ProcessingQueue", "Arn"]})}
    assert all("parameter/${self:service}/${sls:stage}" in r for r in grants["ssm:GetParameters"])
    (decrypt,) = [s for s in _statements(resources, "FetcherRole") if s["Action"] == "kms:Decrypt"]
    assert decrypt["Condition"]["StringEquals"] == {
        "kms:ViaService": {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"}
    }
    assert "kms:EncryptionContext:PARAMETER_ARN" in decrypt["Condition"]["StringLike"]


def test_processor_role(resources: dict[str, Any]) -> None:
    grants = _grants(resources, "ProcessorRole")
    tables = {
        str(r)
        for t in ("FlightsTable", "AirportsTable", "OpsTable")
        for r in ({"Fn::GetAtt": [t, "Arn"]}, {"Fn::Sub": f"${{{t}.Arn}}/index/*"})
    }

    for action in ("GetItem", "Query", "PutItem", "UpdateItem", "BatchWriteItem", "DeleteItem"):
        assert grants[f"dynamodb:{action}"] == tables
    assert "dynamodb:Scan" not in grants
    assert grants["s3:GetObject"] == {str({"Fn::Sub": "${StorageBucket.Arn}/raw/*"})}
    assert grants["s3:PutObject"] == {str({"Fn::Sub": "${StorageBucket.Arn}/processed/*"})}
    assert grants["events:PutEvents"] == {str({"Fn::GetAtt": ["EventBus", "Arn"]})}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} <= set(grants)
    assert "sqs:SendMessage" not in grants


def test_api_role_only_reads(resources: dict[str, Any]) -> None:
    grants = _grants(resources, "ApiRole")
    reads = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"}
    reads |= {"s3:ListBucket", "s3:GetObject"}
    publishes = {"events:PutEvents"}  # RateLimitExceeded
    athena = {"s3:GetBucketLocation", "s3:PutObject", "s3:AbortMultipartUpload"}
    athena |= {f"athena:{a}QueryExecution" for a in ("Start", "Get", "Stop")}
    athena |= {"athena:GetQueryResults", "glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"}

    assert {a for a in grants if not a.startswith(("logs:", "xray:"))} == reads | publishes | athena
    assert grants["events:PutEvents"] == {str({"Fn::GetAtt": ["EventBus", "Arn"]})}
    assert grants["dynamodb:Scan"] == {
        str({"Fn::GetAtt": ["AirportsTable", "Arn"]}),
        str({"Fn::Sub": "${AirportsTable.Arn}/index/*"}),
    }
    # Analytics reads the processed data only, never the raw archive; Athena writes its
    # results as the caller, under athena-results/ only.
    results = str({"Fn::Sub": "${StorageBucket.Arn}/athena-results/*"})
    assert grants["s3:GetObject"] == {
        str({"Fn::Sub": "${StorageBucket.Arn}/processed/*"}),
        results,
    }
    assert grants["s3:PutObject"] == grants["s3:AbortMultipartUpload"] == {results}


def test_websocket_role_manages_only_its_stages_connections(resources: dict[str, Any]) -> None:
    grants = _grants(resources, "WebsocketRole")
    writes = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "Scan"}

    for action in writes:
        assert grants[f"dynamodb:{action}"] <= {
            str({"Fn::GetAtt": ["ConnectionsTable", "Arn"]}),
            str({"Fn::GetAtt": ["AirportsTable", "Arn"]}),
            str({"Fn::Sub": "${AirportsTable.Arn}/index/*"}),
        }
    assert grants["dynamodb:PutItem"] == {str({"Fn::GetAtt": ["ConnectionsTable", "Arn"]})}
    manage = grants["execute-api:ManageConnections"]
    assert len(manage) == 2
    for method in ("POST", "DELETE"):
        assert any(
            f":${{WebsocketsApi}}/${{sls:stage}}/{method}/@connections/*" in arn for arn in manage
        )
    assert not any(a.startswith(("s3:", "sqs:", "events:", "ssm:", "kms:")) for a in grants)


def test_vpc_and_tracing_permissions_follow_their_parameters(resources: dict[str, Any]) -> None:
    for role in ("ProcessorRole", "ApiRole"):
        (managed,) = _props(resources, role)["ManagedPolicyArns"]
        assert managed["Fn::If"][0] == "InVpc"
    for role in ROLES.values():
        conditional = [
            s["Fn::If"]
            for policy in _props(resources, role)["Policies"]
            for s in policy["PolicyDocument"]["Statement"]
            if "Fn::If" in s
        ]
        assert [c[0] for c in conditional] == ["TracingActive"]


def test_references_point_at_declared_resources(
    sls: dict[str, Any], resources: dict[str, Any]
) -> None:
    declared = (
        set(resources)
        | set(sls["resources"]["Parameters"])
        | _generated(sls)
        | {"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::NoValue"}
    )
    used = _refs(sls["resources"]) | _refs(sls["provider"]) | _refs(sls["functions"])
    # Definition placeholders filled from DefinitionSubstitutions.
    used -= set(_props(resources, "FetchSchedule")["DefinitionSubstitutions"])

    assert used - declared == set()


# ---------------------------------------------------------------- the Lambda artifact


def test_each_function_ships_the_artifact_built_for_it(sls: dict[str, Any]) -> None:
    shipped = {name: ROOT / f["package"]["artifact"] for name, f in sls["functions"].items()}
    built = {f: a.path() for a in build_lambda.ARTIFACTS for f in a.functions}

    assert sls["package"] == {"individually": True}
    assert shipped == built
    # DuckDB only where live figures are answered; pyarrow wherever Parquet is written.
    duckdb = {f for a in build_lambda.ARTIFACTS if "duckdb" not in a.leave_out for f in a.functions}
    api = {"flight-api-handler", "appsync-resolver", "appsync-authorizer"}
    assert duckdb == api
    pyarrow = {
        f for a in build_lambda.ARTIFACTS if "pyarrow" not in a.leave_out for f in a.functions
    }
    assert pyarrow == set(sls["functions"]) - api


def test_tracing_turns_the_shipped_xray_sdk_on(sls: dict[str, Any]) -> None:
    names = {
        build_lambda.requirement_name(r)
        for r in build_lambda.runtime_requirements(ROOT / "pyproject.toml")
    }

    assert "aws-xray-sdk" in names
    assert sls["provider"]["environment"]["FLIGHTDATA_XRAY"] == {
        "Fn::If": ["TracingActive", "true", "false"]
    }


def test_zips_keep_the_models_of_every_aws_service_the_code_calls() -> None:
    called = re.compile(r"(?:aws_client\(\w+, |boto3\.client\(\s*)\"([a-z0-9-]+)\"")
    services = {
        match
        for package in (
            "analytics",
            "ingestion",
            "observability",
            "runtime",
            "security",
            "storage",
            "subscriptions",
        )
        for path in (ROOT / package).rglob("*.py")
        for match in called.findall(path.read_text(encoding="utf-8"))
    }

    assert {"dynamodb", "s3", "sqs", "events", "ssm", "apigatewaymanagementapi"} <= services
    assert services <= build_lambda.AWS_SERVICES


def test_aws_models_of_other_services_are_left_out(tmp_path: Path) -> None:
    for service in ("dynamodb", "s3", "ec2"):
        (tmp_path / service / "2012-08-10").mkdir(parents=True)
    (tmp_path / "endpoints.json").write_text("{}")

    build_lambda.prune_aws_models(tmp_path, {"dynamodb", "s3"})

    assert sorted(p.name for p in tmp_path.iterdir()) == ["dynamodb", "endpoints.json", "s3"]


def test_a_shared_library_ships_under_its_soname_only(tmp_path: Path) -> None:
    for name in ("libx.so", "libx.so.20", "libx.so.20.0.0"):
        (tmp_path / name).write_bytes(b"\x7fELF same")
    (tmp_path / "liby.so.3").write_bytes(b"\x7fELF other")
    (tmp_path / "liby.so").write_bytes(b"\x7fELF different bytes")

    removed = build_lambda.drop_library_copies(tmp_path)

    assert [p.name for p in removed] == ["libx.so", "libx.so.20.0.0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["libx.so.20", "liby.so", "liby.so.3"]


def test_an_artifact_leaves_out_the_files_of_a_distribution(tmp_path: Path) -> None:
    site = tmp_path / "site"
    for dist, module in (("DuckDB", "duckdb"), ("orjson", "orjson")):
        info = site / f"{module}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (site / module).mkdir()
        (site / module / "__init__.py").write_text("")
        (info / "RECORD").write_text(
            f"{module}/__init__.py,,\n{module}-1.0.dist-info/METADATA,,\n"
            f"{module}-1.0.dist-info/RECORD,,\n"
        )

    left_out = build_lambda.left_out_files(site, {"duckdb"})
    build_lambda.write_zip(site, tmp_path / "a.zip", left_out)

    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert sorted(archive.namelist()) == [
            "orjson-1.0.dist-info/METADATA",
            "orjson-1.0.dist-info/RECORD",
            "orjson/__init__.py",
        ]


def test_runtime_requirements_leave_out_the_local_server(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[project]\n"
        'name = "x"\n'
        "dependencies = ["
        '"httpx>=0.27", "Uvicorn[standard]>=0.30", "py_arrow ; python_version >= \'3.11\'"'
        "]\n"
    )

    assert build_lambda.runtime_requirements(pyproject, extras=()) == [
        "httpx>=0.27",
        "py_arrow ; python_version >= '3.11'",
    ]


def test_project_dependencies_all_ship_but_the_server() -> None:
    names = {
        build_lambda.requirement_name(r)
        for r in build_lambda.runtime_requirements(ROOT / "pyproject.toml")
    }

    assert "uvicorn" not in names
    assert {"mangum", "strawberry-graphql", "pyarrow"} <= names


def test_zip_is_reproducible(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "b.py").write_text("B = 1\n")
    (site / "pkg" / "a.py").write_text("A = 1\n")
    (site / "tool").write_text("#!/bin/sh\n")
    (site / "tool").chmod(0o755)

    first = build_lambda.write_zip(site, tmp_path / "one.zip")
    (site / "pkg" / "a.py").touch()
    build_lambda.write_zip(site, tmp_path / "two.zip")

    assert first == len("B = 1\n") + len("A = 1\n") + len("#!/bin/sh\n")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert archive.namelist() == ["tool", "pkg/a.py", "pkg/b.py"]
        modes = {i.filename: i.external_attr >> 16 & 0o777 for i in archive.infolist()}
    assert modes == {"tool": 0o755, "pkg/a.py": 0o644, "pkg/b.py": 0o644}


def test_the_fetcher_has_the_backup_source_the_architecture_names(sls: dict[str, Any]) -> None:
    env = _function(sls, "flight-data-fetcher")["environment"]
    defaults = sls["params"]["default"]

    assert env["FLIGHTDATA_BACKUP_SOURCE"] == "${param:backupSource}"
    # An upstream's 429 is a failed cycle, not a sleep as long as the invocation's timeout.
    wait = {"OPENSKY_MAX_RETRY_AFTER": env["OPENSKY_MAX_RETRY_AFTER"]}
    assert Settings.from_env(wait).opensky_max_retry_after_s == 0
    assert defaults["backupSource"] == "adsbx"
    for name, param in {
        "FLIGHTDATA_FAILOVER_AFTER": "failoverAfter",
        "FLIGHTDATA_FAILBACK_EVERY": "failbackEvery",
        "ADSBX_API_URL": "adsbxApiUrl",
        "ADSBX_PATH": "adsbxPath",
        "ADSBX_AUTH_STYLE": "adsbxAuthStyle",
    }.items():
        assert env[name] == f"${{param:{param}}}"
        assert Settings.from_env({name: str(defaults[param])})  # a value the settings take


# ---------------------------------------------------------------- analytics on Athena


def test_glue_table_lies_over_the_processed_parquet(resources: dict[str, Any]) -> None:
    table = _props(resources, "FlightsGlueTable")["TableInput"]
    glue_types = {
        pa.string(): "string",
        pa.float64(): "double",
        pa.bool_(): "boolean",
        pa.int8(): "tinyint",
        pa.timestamp("us", tz="UTC"): "timestamp",
    }
    files = [(f.name, glue_types[f.type]) for f in SCHEMA if f.name != "region"]
    columns = table["StorageDescriptor"]["Columns"]

    assert [(c["Name"], c["Type"]) for c in columns] == files
    assert [k["Name"] for k in table["PartitionKeys"]] == ["year", "month", "day", "region"]
    assert {k["Type"] for k in table["PartitionKeys"]} == {"string"}  # as the SQL joins them
    assert table["StorageDescriptor"]["Location"] == {
        "Fn::Sub": "s3://${StorageBucket}/processed/flights/"
    }


def test_glue_partitions_are_projected_from_the_writers_keys(resources: dict[str, Any]) -> None:
    params = _props(resources, "FlightsGlueTable")["TableInput"]["Parameters"]
    template = params["storage.location.template"]["Fn::Sub"]
    values = {"${!year}": "2026", "${!month}": "07", "${!day}": "09", "${!region}": "asia"}
    for name, value in values.items():
        template = template.replace(name, value)
    written = partition(datetime(2026, 7, 9, 23, 59, tzinfo=UTC), "asia")

    assert params["projection.enabled"] == "true"
    assert template == f"s3://${{StorageBucket}}/{written}"
    assert params["projection.region.values"].split(",") == [*REGIONS, "unknown"]
    assert (params["projection.month.digits"], params["projection.day.digits"]) == ("2", "2")
    assert params["projection.month.range"] == "1,12"
    assert params["projection.day.range"] == "1,31"


def test_athena_workgroup_keeps_results_apart_and_limits_each_scan(
    sls: dict[str, Any], resources: dict[str, Any]
) -> None:
    config = _props(resources, "AnalyticsWorkGroup")["WorkGroupConfiguration"]
    limit = sls["resources"]["Parameters"]["AthenaScanLimitBytes"]
    rules = _props(resources, "StorageBucket")["LifecycleConfiguration"]["Rules"]
    (results,) = [r for r in rules if r.get("Prefix") == "athena-results/"]

    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaScanLimitBytes"}
    assert limit["MinValue"] >= 10_000_000  # Athena's smallest limit
    assert int(sls["params"]["default"]["athenaScanLimitBytes"]) >= limit["MinValue"]
    assert config["ResultConfiguration"]["OutputLocation"] == {
        "Fn::Sub": "s3://${StorageBucket}/athena-results/"
    }
    assert results["ExpirationInDays"] <= 30


def test_the_api_queries_windows_in_the_workgroup(sls: dict[str, Any]) -> None:
    env = _function(sls, "flight-api-handler")["environment"]

    assert env["ATHENA_WORKGROUP"] == {"Ref": "AnalyticsWorkGroup"}
    assert env["GLUE_DATABASE"] == {"Ref": "AnalyticsDatabase"}
    settings = Settings.from_env({"ATHENA_WORKGROUP": "wg", "GLUE_DATABASE": "flightdata_ci"})
    assert (settings.athena_workgroup, settings.glue_database) == ("wg", "flightdata_ci")


def test_only_the_daily_job_compacts_and_only_the_processed_states(
    sls: dict[str, Any], resources: dict[str, Any]
) -> None:
    for role in ROLES.values():
        deletes = _grants(resources, role).get("s3:DeleteObject", set())
        expected = {str({"Fn::Sub": "${StorageBucket.Arn}/processed/flights/year=*"})}
        assert deletes == (expected if role == "AnalyticsRole" else set()), role
    assert _function(sls, "analytics-processor")["ephemeralStorageSize"] >= 2048


def test_the_daily_job_sums_on_athena_as_the_api_queries_windows(
    sls: dict[str, Any], resources: dict[str, Any]
) -> None:
    for function, role in (
        ("flight-api-handler", "ApiRole"),
        ("analytics-processor", "AnalyticsRole"),
    ):
        env = _function(sls, function)["environment"]
        assert env["ATHENA_WORKGROUP"] == {"Ref": "AnalyticsWorkGroup"}
        assert env["GLUE_DATABASE"] == {"Ref": "AnalyticsDatabase"}
        grants = _grants(resources, role)
        (workgroup,) = grants["athena:StartQueryExecution"]
        assert "workgroup/${AnalyticsWorkGroup}" in workgroup
        assert grants["athena:GetQueryResults"] == {workgroup}
        assert grants["glue:GetTable"] == grants["glue:GetDatabase"]
        assert any("table/${AnalyticsDatabase}/flights" in r for r in grants["glue:GetTable"])


# ---------------------------------------------------------------- AppSync


def _appsync_resolvers(resources: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (r["Properties"]["TypeName"], r["Properties"]["FieldName"]): r["Properties"]
        for r in resources.values()
        if r.get("Type") == "AWS::AppSync::Resolver"
    }


def test_every_appsync_query_field_resolves_on_the_lambda(resources: dict[str, Any]) -> None:
    from appsync.sdl import SDL_PATH, build

    query = build(SDL_PATH.read_text(encoding="utf-8")).query_type
    assert query is not None
    resolvers = _appsync_resolvers(resources)
    lambda_source = {"Fn::GetAtt": ["AppSyncLambdaSource", "Name"]}

    assert {f for t, f in resolvers if t == "Query"} == set(query.fields)
    for (kind, _), props in resolvers.items():
        if kind == "Query":  # direct: AppSync's own payload and answer, no templates
            assert props["DataSourceName"] == lambda_source
            assert "RequestMappingTemplate" not in props
            assert "ResponseMappingTemplate" not in props
    flight_updates = resolvers[("Subscription", "flightUpdates")]
    assert flight_updates["DataSourceName"] == lambda_source
    assert "setSubscriptionFilter($ctx.result)" in flight_updates["ResponseMappingTemplate"]
    track_updates = resolvers[("Subscription", "trackUpdates")]  # watches its aircraft
    assert track_updates["DataSourceName"] == lambda_source
    for mutation, key in (("publishFlightUpdates", "tile"), ("publishTrackUpdate", "icao24")):
        publish = resolvers[("Mutation", mutation)]
        assert publish["DataSourceName"] == {"Fn::GetAtt": ["AppSyncPublications", "Name"]}
        assert f'$body.put("{key}", $ctx.args.{key})' in publish["RequestMappingTemplate"]
    assert _props(resources, "AppSyncPublications")["Type"] == "NONE"


def test_appsync_takes_api_keys_through_the_authorizer_and_iam(
    sls: dict[str, Any], resources: dict[str, Any]
) -> None:
    api = _props(resources, "AppSyncApi")
    authorizer = {"Fn::GetAtt": ["AppsyncDashauthorizerLambdaFunction", "Arn"]}
    assert api["AuthenticationType"] == "AWS_LAMBDA"
    assert api["LambdaAuthorizerConfig"]["AuthorizerUri"] == authorizer
    assert api["AdditionalAuthenticationProviders"] == [{"AuthenticationType": "AWS_IAM"}]
    permission = _props(resources, "AppSyncAuthorizerPermission")
    assert permission["FunctionName"] == authorizer
    assert permission["Principal"] == "appsync.amazonaws.com"
    assert _function(sls, "appsync-authorizer")["handler"] == "runtime/appsync_lambdas.authorizer"
    assert _props(resources, "AppSyncSchema")["Definition"] == "${file(appsync/schema.js):sdl}"


def test_the_publisher_may_only_publish(sls: dict[str, Any], resources: dict[str, Any]) -> None:
    rule = _props(resources, "AppSyncPublishRule")
    assert rule["EventPattern"]["detail-type"] == ["FlightDataProcessed"]
    assert rule["Targets"][0]["Arn"] == {
        "Fn::GetAtt": ["AppsyncDashpublisherLambdaFunction", "Arn"]
    }
    [appsync] = [
        s
        for s in _statements(resources, "AppSyncPublisherRole")
        if any(a.startswith("appsync:") for a in _actions(s))
    ]
    assert _actions(appsync) == ["appsync:GraphQL"]
    assert _resources_of(appsync) == [
        {"Fn::Sub": "${AppSyncApi.Arn}/types/Mutation/fields/publishFlightUpdates"},
        {"Fn::Sub": "${AppSyncApi.Arn}/types/Mutation/fields/publishTrackUpdate"},
    ]
    env = _function(sls, "appsync-publisher")["environment"]
    assert env["APPSYNC_GRAPHQL_URL"] == {"Fn::GetAtt": ["AppSyncApi", "GraphQLUrl"]}
