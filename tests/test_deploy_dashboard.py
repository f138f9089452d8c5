"""scripts/deploy_dashboard.py against the moto server over HTTP: what lands in the bucket
(types, cache headers, config.json), in what order, the CloudFront invalidation, and
``main`` reading the stack's outputs from CloudFormation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from scripts import deploy_dashboard
from scripts.deploy_dashboard import IMMUTABLE, DeployError, Target

if TYPE_CHECKING:
    from moto_server import MotoServer
    from mypy_boto3_cloudfront.client import CloudFrontClient
    from mypy_boto3_s3.client import S3Client

pytest_plugins = ["moto_server"]

BUCKET = "flightdata-dashboard-test-123456789012-eu-west-1"
HTTP_API = "https://abc123.execute-api.eu-west-1.amazonaws.com"
WEBSOCKET = "wss://ws456.execute-api.eu-west-1.amazonaws.com/test"
INDEX = '<!doctype html><script type="module" src="./assets/index-Bx7k2QpA.js"></script>\n'
FILES = {
    "index.html": INDEX,
    "assets/index-Bx7k2QpA.js": "export const answer = 42;\n",
    "assets/index-Bx7k2QpA.js.map": '{"version": 3}\n',
    "assets/index-D4fG8hJk.css": "body { margin: 0 }\n",
    "assets/plane-C1aB2cD3.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    "assets/fonts/inter-E5f6G7h8.woff2": "wOF2",
    "favicon.ico": "ico",
}
TYPES = {
    "index.html": "text/html; charset=utf-8",
    "assets/index-Bx7k2QpA.js": "text/javascript; charset=utf-8",
    "assets/index-Bx7k2QpA.js.map": "application/json",
    "assets/index-D4fG8hJk.css": "text/css; charset=utf-8",
    "assets/plane-C1aB2cD3.svg": "image/svg+xml",
    "assets/fonts/inter-E5f6G7h8.woff2": "font/woff2",
    "favicon.ico": "image/x-icon",
}


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    for key, text in FILES.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def s3(aws: MotoServer) -> S3Client:
    client = aws.s3()
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": aws.region}
    )
    return client


@pytest.fixture
def distribution_id(aws: MotoServer) -> str:
    answer = aws.cloudfront().create_distribution(
        DistributionConfig={
            "CallerReference": "test",
            "Comment": "flightdata dashboard (test)",
            "Enabled": True,
            "DefaultRootObject": "index.html",
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "dashboard-bucket",
                        "DomainName": f"{BUCKET}.s3.eu-west-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "dashboard-bucket",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
            },
        }
    )
    return answer["Distribution"]["Id"]


def _target(distribution_id: str = "E2EXAMPLE") -> Target:
    return Target(
        bucket=BUCKET,
        distribution_id=distribution_id,
        url="https://d111111abcdef8.cloudfront.net",
        http_api_url=HTTP_API,
        websocket_url=WEBSOCKET,
    )


def _object(s3: S3Client, key: str) -> tuple[bytes, str, str]:
    answer = s3.get_object(Bucket=BUCKET, Key=key)
    return answer["Body"].read(), answer["ContentType"], answer.get("CacheControl", "")


def _invalidated_paths(cloudfront: CloudFrontClient, distribution_id: str) -> list[list[str]]:
    listed = cloudfront.list_invalidations(DistributionId=distribution_id)["InvalidationList"]
    paths = []
    for summary in listed.get("Items", []):
        batch = cloudfront.get_invalidation(DistributionId=distribution_id, Id=summary["Id"])
        paths.append(sorted(batch["Invalidation"]["InvalidationBatch"]["Paths"]["Items"]))
    return paths


# ---------------------------------------------------------------- upload


def test_every_file_lands_with_its_type_and_cache_header(s3: S3Client, dist: Path) -> None:
    config = deploy_dashboard.runtime_config(_target(), {})
    keys = deploy_dashboard.upload(s3, BUCKET, dist, config)

    assert sorted(keys) == sorted([*FILES, "config.json"])
    for key, text in FILES.items():
        body, content_type, cache = _object(s3, key)
        assert body == text.encode(), key
        assert content_type == TYPES[key], key
        assert cache == (IMMUTABLE if key.startswith("assets/") else "no-cache"), key
    assert IMMUTABLE == "public, max-age=31536000, immutable"


def test_config_points_the_dashboard_at_the_stacks_api(s3: S3Client, dist: Path) -> None:
    env = {
        "FLIGHTDATA_TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "FLIGHTDATA_TILE_ATTRIBUTION": "© OpenStreetMap contributors",
    }
    deploy_dashboard.upload(s3, BUCKET, dist, deploy_dashboard.runtime_config(_target(), env))
    body, content_type, cache = _object(s3, "config.json")

    assert json.loads(body) == {
        "graphqlUrl": f"{HTTP_API}/graphql",
        "subscriptionUrl": WEBSOCKET,
        "tileUrl": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "tileAttribution": "© OpenStreetMap contributors",
        "anonymous": False,
    }
    assert content_type == "application/json"
    assert cache == "no-cache"


def test_config_without_tiles_is_the_offline_map() -> None:
    target = dataclasses.replace(_target(), http_api_url=HTTP_API + "/")
    config = deploy_dashboard.runtime_config(target, {"FLIGHTDATA_TILE_URL": " "})

    assert config["graphqlUrl"] == f"{HTTP_API}/graphql"
    assert config["tileUrl"] is None
    assert config["tileAttribution"] is None


def test_assets_go_first_the_page_after_them_config_last(s3: S3Client, dist: Path) -> None:
    keys = deploy_dashboard.upload(s3, BUCKET, dist, {})

    assets = [k for k in keys if k.startswith("assets/")]
    assert keys[: len(assets)] == assets
    assert keys[-2:] == ["index.html", "config.json"]


def test_nothing_is_uploaded_without_a_build(s3: S3Client, tmp_path: Path) -> None:
    empty = tmp_path / "dist"
    (empty / "assets").mkdir(parents=True)
    (empty / "assets" / "index-Bx7k2QpA.js").write_text("x", encoding="utf-8")

    with pytest.raises(DeployError, match=r"index\.html is missing"):
        deploy_dashboard.upload(s3, BUCKET, empty, {})
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_a_built_config_json_is_refused(s3: S3Client, dist: Path) -> None:
    (dist / "config.json").write_text("{}", encoding="utf-8")

    with pytest.raises(DeployError, match=r"config\.json would be replaced"):
        deploy_dashboard.upload(s3, BUCKET, dist, {})
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


# ---------------------------------------------------------------- stack outputs and main


def test_missing_outputs_are_named() -> None:
    with pytest.raises(DeployError) as error:
        Target.from_outputs({"DashboardBucketName": BUCKET, "HttpApiUrl": HTTP_API})

    assert "DashboardUrl, DistributionId, SubscriptionUrl" in str(error.value)


def test_deploy_uploads_and_invalidates_the_page(
    aws: MotoServer, s3: S3Client, dist: Path, distribution_id: str
) -> None:
    cloudfront = aws.cloudfront()
    deploy_dashboard.deploy(_target(distribution_id), dist, s3=s3, cloudfront=cloudfront, env={})

    assert _invalidated_paths(cloudfront, distribution_id) == [["/", "/config.json", "/index.html"]]
    assert _object(s3, "index.html")[0] == INDEX.encode()


def test_main_reads_the_stack_and_deploys(
    aws: MotoServer,
    s3: S3Client,
    dist: Path,
    distribution_id: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outputs = {
        "DashboardBucketName": BUCKET,
        "DistributionId": distribution_id,
        "DashboardUrl": "https://d111111abcdef8.cloudfront.net",
        "HttpApiUrl": HTTP_API,
        "SubscriptionUrl": WEBSOCKET,
    }
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    aws.cloudformation().create_stack(
        StackName=deploy_dashboard.stack_name("test"), TemplateBody=json.dumps(template)
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)
    monkeypatch.setenv("FLIGHTDATA_TILE_URL", "https://tiles.example/{z}/{x}/{y}.png")

    deploy_dashboard.main(["--stage", "test", "--region", aws.region, "--dist", str(dist)])

    assert deploy_dashboard.stack_name("test") == "flightdata-test"
    config = json.loads(_object(s3, "config.json")[0])
    assert config["graphqlUrl"] == f"{HTTP_API}/graphql"
    assert config["subscriptionUrl"] == WEBSOCKET
    assert config["tileUrl"] == "https://tiles.example/{z}/{x}/{y}.png"
    assert _invalidated_paths(aws.cloudfront(), distribution_id) == [
        ["/", "/config.json", "/index.html"]
    ]
    assert "served at https://d111111abcdef8.cloudfront.net" in capsys.readouterr().out


def test_main_without_the_stack_says_so(
    aws: MotoServer, dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url)

    with pytest.raises(SystemExit) as stop:
        deploy_dashboard.main(["--stage", "absent", "--region", aws.region, "--dist", str(dist)])

    assert "cannot read the stack flightdata-absent" in str(stop.value.code)
