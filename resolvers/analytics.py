"""Root resolver of the ``analytics`` namespace: one analytics service per request."""

from __future__ import annotations

from strawberry.types import Info

from analytics.service import build_service
from schema.analytics import Analytics
from schema.context import Context


async def analytics(info: Info[Context, None]) -> Analytics:
    """Aggregates over live and historical flight data; each field says where it came from."""
    return Analytics(service=build_service(info.context.stores, info.context.settings))
