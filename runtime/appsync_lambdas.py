"""The AppSync API's Lambda handlers (``serverless.yml``): ``resolver``, the direct Lambda
resolver of every ``Query`` field (and of the ``Subscription`` fields at subscribe time),
``authorizer``, its Lambda authorizer (``appsync.resolver``, ``appsync.authorizer``), and
``publisher``, which publishes each FlightDataProcessed event to the API's real-time
engine with IAM (``appsync.publisher``).

They share one runtime per container, built on the first invocation and kept while warm:
the settings, the stores, the schema with the HTTP API's limits and the security gate.
Importing this module builds nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from config import ConfigError, Settings
from observability import bootstrap
from observability.context import bound
from runtime.stores import open_stores

if TYPE_CHECKING:
    from appsync.resolver import AppSyncResolver
    from live.processed_cycle import Cycle


@dataclass
class _AppSync:
    resolver: AppSyncResolver


_runtime: _AppSync | None = None


def _get_runtime() -> _AppSync:
    global _runtime
    if _runtime is None:
        from appsync.resolver import AppSyncResolver
        from resolvers.root import build_schema
        from security.gate import build_security
        from security.limits import QueryLimits

        settings = Settings.from_env()
        bootstrap.for_lambda(settings, graphql=True)
        stores = open_stores(settings)
        _runtime = _AppSync(
            AppSyncResolver(
                schema=build_schema(QueryLimits.from_settings(settings)),
                stores=stores,
                settings=settings,
                gate=build_security(settings, stores).gate,
            )
        )
    return _runtime


def reset_runtime() -> None:
    """Forget the warm runtime (tests; a new configuration)."""
    global _runtime
    if _runtime is not None:
        _runtime.resolver.stores.close()
    _runtime = None


def _request_id(context: Any) -> str | None:
    request_id = getattr(context, "aws_request_id", None)
    return request_id if isinstance(request_id, str) else None


def resolver(event: dict[str, Any], context: Any) -> Any:
    """AppSync's direct Lambda resolver: the value of one ``Query`` field."""
    rt = _get_runtime()
    with bound(request_id=_request_id(context)):
        return asyncio.run(rt.resolver.resolve(event))


def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AppSync's Lambda authorizer: the API key in ``authorizationToken``."""
    from appsync.authorizer import authorize

    rt = _get_runtime()
    with bound(request_id=_request_id(context)):
        return asyncio.run(authorize(rt.resolver.gate, event))


def publisher(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge's FlightDataProcessed: the cycle's changes, one mutation per tile and
    one per watched aircraft."""
    from live.processed_cycle import Cycle

    rt = _get_runtime()
    with bound(request_id=_request_id(context)):
        return asyncio.run(_publish(rt, Cycle.from_event(event)))


async def _publish(rt: _AppSync, cycle: Cycle) -> dict[str, Any]:
    import boto3
    import httpx

    from appsync.iam import IamGraphQL
    from appsync.publisher import Publisher

    settings = rt.resolver.settings
    if not settings.appsync_graphql_url:
        raise ConfigError("APPSYNC_GRAPHQL_URL: required by the AppSync publisher")
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise ConfigError("no AWS credentials for the AppSync publisher")
    async with httpx.AsyncClient(timeout=settings.http_timeout_s) as client:
        post = IamGraphQL(settings.appsync_graphql_url, settings.aws_region, credentials, client)
        return await Publisher(rt.resolver.stores, post).publish(cycle)
