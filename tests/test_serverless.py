"""serverless.yml against the architecture: tables, functions, queues, bucket, IAM, alarms.

The file is read as YAML, not through osls (``.ci/package-check`` packages it and runs
cfn-lint on the result). ``${...}`` variables stay plain strings; CloudFormation's short
tags (``!Ref``, ``!GetAtt``, ``!Sub``, ...) become their long form, as osls makes them.
"""

from __future__ import annotations

import ast
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.events import EVENT_TYPES
from scripts import build_lambda, deploy_dashboard
from storage.dynamodb.tables import CONNECTIONS

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
    }
    assert sls["provider"]["runtime"] == "python3.11"
    assert sls["provider"]["architecture"] == "x86_64"


def test_api_handler_concurrency_and_routes(sls: dict[str, Any]) -> None:
    api = _function(sls, "flight-api-handler")

    assert api["reservedConcurrency"] == 100
    assert api["provisionedConcurrency"] == 10
    assert api["provisionedConcurrency"] <= api["reservedConcurrency"]
    assert sorted((e["httpApi"]["method"], e["httpApi"]["path"]) for e in api["events"]) == [
        ("GET", "/graphql"),
        ("GET", "/healthz"),
        ("GET", "/static/{proxy+}"),
        ("POST", "/graphql"),
    ]


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
    assert "VersioningConfiguration" not in bucket
    rules = {r.get("Prefix"): r for r in bucket["LifecycleConfiguration"]["Rules"]}
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
    # HttpApiUrl and ServiceEndpointWebsocket are osls's own outputs of the two APIs.
    read = set(deploy_dashboard.OUTPUTS.values())
    assert read - {"HttpApiUrl", "ServiceEndpointWebsocket"} <= set(outputs)
    assert {"HttpApiUrl", "ServiceEndpointWebsocket"} <= read


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

    assert {a for a in grants if not a.startswith(("logs:", "xray:"))} == reads
    assert grants["dynamodb:Scan"] == {
        str({"Fn::GetAtt": ["AirportsTable", "Arn"]}),
        str({"Fn::Sub": "${AirportsTable.Arn}/index/*"}),
    }
    # Analytics reads the processed data only, never the raw archive.
    assert grants["s3:GetObject"] == {str({"Fn::Sub": "${StorageBucket.Arn}/processed/*"})}


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


def test_package_is_the_built_artifact(sls: dict[str, Any]) -> None:
    assert ROOT / sls["package"]["artifact"] == build_lambda.DEFAULT_OUT


def test_runtime_requirements_leave_out_the_local_server(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        "[project]\n"
        'name = "x"\n'
        "dependencies = ["
        '"httpx>=0.27", "Uvicorn[standard]>=0.30", "py_arrow ; python_version >= \'3.11\'"'
        "]\n"
    )

    assert build_lambda.runtime_requirements(pyproject) == [
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
