"""Who a request acts for, and where the request path leaves it for later layers.

The middleware puts the ``Principal`` into the ASGI scope (as Starlette's
``AuthenticationMiddleware`` puts ``scope["user"]``); the GraphQL layer reads it back from
the context's request with ``principal_of(context)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCOPE_PRINCIPAL = "flightdata.principal"

READ = frozenset({"read"})
ADMIN = frozenset({"read", "admin"})


@dataclass(frozen=True, slots=True)
class Principal:
    """A key (``id`` ``key:<key id>``) or an anonymous client address (``ip:<address>``)."""

    id: str
    scopes: frozenset[str]
    tier: str
    key_id: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.key_id is None


def anonymous(address: str, tier: str = "anonymous") -> Principal:
    return Principal(id=f"ip:{address}", scopes=READ, tier=tier)


def _scope(context: Any) -> dict[str, Any] | None:
    request = getattr(context, "request", None)
    if request is None and isinstance(context, dict):
        request = context.get("request")
    scope = getattr(request, "scope", None)
    return scope if isinstance(scope, dict) else None


def principal_of(context: Any) -> Principal | None:
    """The principal of the request behind a GraphQL context; ``None`` where no security
    layer ran (``FLIGHTDATA_SECURITY=false``, in-process calls)."""
    scope = _scope(context)
    return None if scope is None else scope.get(SCOPE_PRINCIPAL)
