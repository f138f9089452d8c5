"""The AppSync Lambda authorizer: an API key, sent as the ``Authorization`` header, checked
against the same key store as the HTTP API's ``X-API-Key`` (``security.gate``), so one key
works on both paths.

AppSync's request (Lambda authorization mode)::

    {"authorizationToken": "fd_...", "requestContext": {"apiId", "accountId", "requestId",
     "queryString", "operationName", "variables"}, "requestHeaders": {...}}

and the answer read back::

    {"isAuthorized": bool, "resolverContext": {str: str}, "ttlOverride": seconds}

``resolverContext`` reaches every resolver as ``identity.resolverContext``
(``appsync.resolver``): who the request acts for, its scopes and rate tier. AppSync keeps
an answer for ``ttlOverride`` seconds per token: one second, so a revoked key is refused
within a second here too, as by the HTTP API.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from security.gate import Gate
from security.keys import KeyRejected
from security.principal import Principal

log = logging.getLogger(__name__)

TTL_S = 1


def principal_context(principal: Principal) -> dict[str, str]:
    """``principal`` as AppSync's ``resolverContext`` (string values)."""
    return {
        "principal": principal.id,
        "keyId": principal.key_id or "",
        "scopes": " ".join(sorted(principal.scopes)),
        "tier": principal.tier,
    }


def principal_from(resolver_context: Mapping[str, Any]) -> Principal:
    """The principal ``principal_context`` wrote."""
    return Principal(
        id=str(resolver_context["principal"]),
        scopes=frozenset(str(resolver_context.get("scopes", "")).split()),
        tier=str(resolver_context.get("tier", "standard")),
        key_id=str(resolver_context.get("keyId") or "") or None,
    )


def _token(event: Mapping[str, Any]) -> str:
    token = str(event.get("authorizationToken") or "").strip()
    scheme, _, rest = token.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else token


async def authorize(gate: Gate | None, event: Mapping[str, Any]) -> dict[str, Any]:
    """AppSync's answer for the authorization request ``event``; without a gate
    (``FLIGHTDATA_SECURITY=false``) every request is authorised, as over HTTP."""
    request = event.get("requestContext") or {}
    if gate is None:
        return {"isAuthorized": True, "resolverContext": {}, "ttlOverride": TTL_S}
    try:
        principal = await gate.authenticate(_token(event) or None, "appsync")
    except KeyRejected as exc:
        log.info("AppSync request %s refused: %s", request.get("requestId", "-"), exc.code)
        return {"isAuthorized": False, "ttlOverride": TTL_S}
    return {
        "isAuthorized": True,
        "resolverContext": principal_context(principal),
        "ttlOverride": TTL_S,
    }
