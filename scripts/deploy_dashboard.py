"""Upload the built dashboard to the stack's bucket behind CloudFront, pointed at its API.

``make deploy`` runs this after ``osls deploy``. It reads the outputs of the stack
``flightdata-<stage>`` (``serverless.yml``): the bucket (``DashboardBucketName``), the
distribution (``DistributionId``), the HTTP API (``HttpApiUrl``) and where clients
subscribe (``SubscriptionUrl``). Then:

1. every file of ``dashboard/dist`` is put in the bucket with its Content-Type; those under
   ``assets/`` (named by content hash) with ``Cache-Control: public, max-age=31536000,
   immutable``, the rest (``index.html``) with ``no-cache``. Assets go first, so the new
   page never names a file not yet there; assets of earlier builds stay for pages still
   open on them.
2. ``config.json`` is written last: ``graphqlUrl`` the HTTP API's ``/graphql``,
   ``subscriptionUrl`` the stack's ``SubscriptionUrl``, ``anonymous`` false (the stack
   requires a key),
   and the optional tile layer from ``FLIGHTDATA_TILE_URL`` and
   ``FLIGHTDATA_TILE_ATTRIBUTION``.
3. CloudFront is told to drop ``/``, ``/index.html`` and ``/config.json`` (an invalidation).

Usage: ``python scripts/deploy_dashboard.py --stage prod [--region eu-west-1] [--dist DIR]``
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.client import CloudFormationClient
    from mypy_boto3_cloudfront.client import CloudFrontClient
    from mypy_boto3_s3.client import S3Client

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIST = ROOT / "dashboard" / "dist"
SERVICE = "flightdata"  # serverless.yml's service: stacks are named SERVICE-STAGE
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
INVALIDATED = ("/", "/index.html", "/config.json")
# Types the platform's table may lack or get wrong; the rest come from ``mimetypes``.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm",
}
OUTPUTS = {
    "bucket": "DashboardBucketName",
    "distribution_id": "DistributionId",
    "url": "DashboardUrl",
    "http_api_url": "HttpApiUrl",
    "websocket_url": "SubscriptionUrl",
}


class DeployError(RuntimeError):
    """Something the deploy needs is missing; the message says what."""


@dataclass(frozen=True)
class Target:
    """Where the dashboard goes, and the API it talks to: the stack's outputs."""

    bucket: str
    distribution_id: str
    url: str
    http_api_url: str
    websocket_url: str

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, str]) -> Target:
        missing = sorted(name for name in OUTPUTS.values() if not outputs.get(name))
        if missing:
            raise DeployError(
                f"the stack has no output {', '.join(missing)}: deploy it first (osls deploy)"
            )
        return cls(**{field: outputs[name] for field, name in OUTPUTS.items()})


def stack_name(stage: str) -> str:
    return f"{SERVICE}-{stage}"


def stack_outputs(cloudformation: CloudFormationClient, stack: str) -> dict[str, str]:
    """The outputs of ``stack`` by key."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        raise DeployError(f"cannot read the stack {stack}: {exc}") from exc
    if not stacks:
        raise DeployError(f"no stack {stack}")
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def runtime_config(target: Target, env: Mapping[str, str]) -> dict[str, Any]:
    """``config.json`` of the deployed dashboard (the same keys ``/config.json`` of the
    server has, ``api.dashboard.runtime_config``)."""
    return {
        "graphqlUrl": target.http_api_url.rstrip("/") + "/graphql",
        "subscriptionUrl": target.websocket_url,
        "tileUrl": env.get("FLIGHTDATA_TILE_URL", "").strip() or None,
        "tileAttribution": env.get("FLIGHTDATA_TILE_ATTRIBUTION", "").strip() or None,
        # Every API request of the stack needs a key (FLIGHTDATA_ANONYMOUS=false).
        "anonymous": False,
    }


def content_type(path: Path) -> str:
    known = CONTENT_TYPES.get(path.suffix.lower())
    return known or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def cache_control(key: str) -> str:
    return IMMUTABLE if key.startswith("assets/") else NO_CACHE


def upload(s3: S3Client, bucket: str, dist: Path, config: Mapping[str, Any]) -> list[str]:
    """Put ``dist`` and ``config.json`` in ``bucket``; the keys, in the order put."""
    if not (dist / "index.html").is_file():
        raise DeployError(f"{dist / 'index.html'} is missing: build the dashboard (make dashboard)")
    files = sorted(p for p in dist.rglob("*") if p.is_file())
    keys = [p.relative_to(dist).as_posix() for p in files]
    if "config.json" in keys:
        raise DeployError(f"{dist / 'config.json'} would be replaced: remove it from the build")
    # Assets first, the page after them, config.json last.
    ordered = sorted(zip(keys, files, strict=True), key=lambda kp: _order(kp[0]))
    for key, path in ordered:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=content_type(path),
            CacheControl=cache_control(key),
        )
    s3.put_object(
        Bucket=bucket,
        Key="config.json",
        Body=json.dumps(config, indent=2).encode() + b"\n",
        ContentType="application/json",
        CacheControl=NO_CACHE,
    )
    return [key for key, _ in ordered] + ["config.json"]


def _order(key: str) -> tuple[int, str]:
    return (0 if key.startswith("assets/") else 2 if key == "index.html" else 1, key)


def invalidate(cloudfront: CloudFrontClient, distribution_id: str) -> str:
    """Drop the page and its configuration from CloudFront's caches; the invalidation id."""
    answer = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": len(INVALIDATED), "Items": list(INVALIDATED)},
            "CallerReference": f"deploy-dashboard-{time.time_ns()}",
        },
    )
    return answer["Invalidation"]["Id"]


def deploy(
    target: Target,
    dist: Path,
    *,
    s3: S3Client,
    cloudfront: CloudFrontClient,
    env: Mapping[str, str],
) -> list[str]:
    """Upload and invalidate; the keys put."""
    keys = upload(s3, target.bucket, dist, runtime_config(target, env))
    invalidate(cloudfront, target.distribution_id)
    return keys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "eu-west-1"))
    parser.add_argument("--dist", type=Path, default=DEFAULT_DIST, help="the built dashboard")
    args = parser.parse_args(argv)
    session = boto3.session.Session(region_name=args.region)
    try:
        outputs = stack_outputs(session.client("cloudformation"), stack_name(args.stage))
        target = Target.from_outputs(outputs)
        keys = deploy(
            target,
            args.dist,
            s3=session.client("s3"),
            cloudfront=session.client("cloudfront"),
            env=os.environ,
        )
    except DeployError as exc:
        sys.exit(f"deploy_dashboard: {exc}")
    print(f"dashboard: {len(keys)} files to s3://{target.bucket}, served at {target.url}")


if __name__ == "__main__":
    main()
