"""``make bootstrap``: day one of a deployed stack, from the machine that deployed it.

Reads the outputs of the stack ``flightdata-<stage>`` (``serverless.yml``): the tables
(``FlightsTableName``, ``AirportsTableName``, ``OpsTableName``) and the bucket
(``StorageBucketName``), then runs ``flightdata bootstrap`` against them: the airports into
the airports table, and the first admin key, printed once on the last line. Safe to run
again: a second run loads nothing the table has and issues no second key (``--new-key``
asks for one). Last, it prints where the stack serves (``DashboardUrl``, ``HttpApiUrl``).

Needs AWS credentials that may read the stack and write the two tables.

Usage: ``python scripts/bootstrap.py --stage prod [--region eu-west-1] [--airports CSV
[--runways CSV]] [--new-key] [--days N]``
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cli import main as flightdata

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.client import CloudFormationClient

SERVICE = "flightdata"  # serverless.yml's service: stacks are named SERVICE-STAGE
# Stack output -> the setting it fills.
SETTINGS_OF_OUTPUTS = {
    "FlightsTableName": "DYNAMODB_FLIGHTS_TABLE",
    "AirportsTableName": "DYNAMODB_AIRPORTS_TABLE",
    "OpsTableName": "DYNAMODB_OPS_TABLE",
    "StorageBucketName": "S3_RAW_BUCKET",
}


class BootstrapError(RuntimeError):
    """The stack cannot be bootstrapped; the message says why."""


def stack_name(stage: str) -> str:
    return f"{SERVICE}-{stage}"


def stack_outputs(cloudformation: CloudFormationClient, stack: str) -> dict[str, str]:
    """The outputs of ``stack`` by key."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except (BotoCoreError, ClientError) as exc:
        raise BootstrapError(f"cannot read the stack {stack}: {exc}") from exc
    if not stacks:
        raise BootstrapError(f"no stack {stack}")
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def stack_settings(outputs: Mapping[str, str], region: str) -> dict[str, str]:
    """The environment of ``flightdata`` on the stack's stores."""
    missing = sorted(name for name in SETTINGS_OF_OUTPUTS if not outputs.get(name))
    if missing:
        raise BootstrapError(
            f"the stack has no output {', '.join(missing)}: deploy it first (make deploy)"
        )
    env = {setting: outputs[name] for name, setting in SETTINGS_OF_OUTPUTS.items()}
    return {**env, "FLIGHTDATA_BACKEND": "aws", "AWS_REGION": region}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "eu-west-1"))
    args, rest = parser.parse_known_args(argv)
    session = boto3.session.Session(region_name=args.region)
    try:
        outputs = stack_outputs(session.client("cloudformation"), stack_name(args.stage))
        env = stack_settings(outputs, args.region)
    except BootstrapError as exc:
        sys.exit(f"bootstrap: {exc}")
    os.environ.update(env)
    print(f"bootstrap: stack {stack_name(args.stage)} in {args.region}", flush=True)
    for name in ("DashboardUrl", "HttpApiUrl"):
        if outputs.get(name):
            print(f"bootstrap: {name} {outputs[name]}", flush=True)
    flightdata(["bootstrap", *rest])


if __name__ == "__main__":
    main()
