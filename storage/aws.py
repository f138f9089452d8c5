"""boto3 clients for the AWS services the stores and the pipeline use."""

from __future__ import annotations

from typing import Any

from config import Settings


def aws_client(settings: Settings, service: str) -> Any:
    """A boto3 client: the settings' region, their local endpoint if any (DynamoDB Local,
    the moto server), one retry layer and bounded timeouts.

    Retries: botocore's standard mode (3 retries: 4 requests at most) for S3, SQS,
    EventBridge and SSM; none for DynamoDB, whose single retry layer is
    ``storage.dynamodb._client.Dynamo`` (with botocore's too, each of its attempts would be
    up to four requests).

    The DynamoDB client skips botocore's parameter validation: DynamoDB validates every
    request itself (a bad one is a ``ValidationException``, ``StoreUnavailable`` as a
    client-side failure would be), and walking each attribute of each item in Python was
    a quarter of the client CPU of an ingest cycle (measured: 0.45 of 1.7 s, 5,485 states).
    """
    import boto3
    from botocore.config import Config

    endpoint = settings.aws_endpoint_url or None
    if service == "dynamodb" and settings.dynamodb_endpoint_url:
        endpoint = settings.dynamodb_endpoint_url
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=settings.aws_region,
        endpoint_url=endpoint,
        config=Config(
            retries=(
                {"mode": "standard", "total_max_attempts": 1}
                if service == "dynamodb"
                else {"mode": "standard", "max_attempts": 3}
            ),
            connect_timeout=5,
            read_timeout=30,
            parameter_validation=service != "dynamodb",
        ),
    )
