"""A GraphQL client of an AppSync API that signs each request with IAM (SigV4, service
``appsync``): the publisher's. One POST per operation, no retry: a failed publication is
logged by the publisher and the next cycle follows within seconds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class PublishFailed(RuntimeError):
    """AppSync refused an operation or answered with errors (kept in ``errors``)."""

    def __init__(self, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.errors = errors


class IamGraphQL:
    def __init__(
        self, url: str, region: str, credentials: Credentials, client: httpx.AsyncClient
    ) -> None:
        self.url = url
        self.region = region
        self.credentials = credentials
        self.client = client

    def signed_headers(self, body: bytes) -> dict[str, str]:
        request = AWSRequest(
            method="POST", url=self.url, data=body, headers={"content-type": "application/json"}
        )
        SigV4Auth(self.credentials.get_frozen_credentials(), "appsync", self.region).add_auth(
            request
        )
        return dict(request.headers.items())

    async def __call__(self, query: str, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        body = orjson.dumps({"query": query, "variables": dict(variables)})
        response = await self.client.post(self.url, content=body, headers=self.signed_headers(body))
        if response.status_code != 200:
            raise PublishFailed(f"AppSync answered {response.status_code}: {response.text[:200]}")
        answer = response.json()
        if answer.get("errors"):
            raise PublishFailed(
                f"AppSync refused the publication: {answer['errors']}", answer["errors"]
            )
        return dict(answer.get("data") or {})
