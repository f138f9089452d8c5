"""AppSync's direct Lambda resolver: each root ``Query`` field runs on the Strawberry
schema and resolvers the ASGI service runs, so both answer alike.

AppSync invokes the resolver with its context object (the "direct Lambda resolver"
payload)::

    {"arguments": {...}, "identity": {"resolverContext": {...}} | null,
     "source": null, "request": {"headers": {...}},
     "info": {"parentTypeName": "Query", "fieldName": "flights", "variables": {...},
              "selectionSetList": [...], "selectionSetGraphQL": "{ ... }"},
     "prev": null, "stash": {}}

At subscribe time AppSync invokes it for the ``Subscription`` fields too. For
``flightUpdates`` the answer is the subscription's enhanced filter (``appsync.tiles``),
which the resolver's response template sets; the aircraft it names, if any, are watched
for ``WATCH_FOR`` (``storage.base.WatchRepository``), so that the publisher sends their
batches. For ``trackUpdates(icao24:)`` the aircraft is checked and watched: the publisher
sends track points of watched aircraft only, and AppSync matches the argument to the
published point's ``icao24``.

``appsync.document`` rebuilds a ``Query`` field's query from the payload; the value of
the field is the answer, and AppSync resolves the nested fields from it by name. An
operation Strawberry answers with errors raises ``ResolverError``: AppSync reports its
message (masked as the HTTP API masks it), with ``errorType`` ``ResolverError``. A field
with errors has no partial data.

Who the request acts for comes from the authorizer (``identity.resolverContext``); it is
rate-limited by the same gate as the HTTP API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from appsync.authorizer import principal_from
from appsync.document import field_document
from appsync.tiles import subscription_filter, watched_alone
from config import Settings
from domain import InvalidArgument
from schema import FlightSchema, arguments, mask_errors
from schema.context import Context, make_loaders
from security.gate import Gate
from security.principal import SCOPE_PRINCIPAL, Principal
from storage.offload import offload
from storage.stores import Stores

# How long a trackUpdates subscription's aircraft stays watched: AppSync closes every
# real-time connection within 24 hours, and does not tell when a subscription ends.
WATCH_FOR = timedelta(hours=24)


class ResolverError(Exception):
    """A field AppSync answers with an error (its ``errorType`` is this class's name);
    ``code`` is the GraphQL error's ``extensions.code``."""

    def __init__(self, message: str, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class AppSyncResolver:
    """What a resolver invocation needs; ``runtime.lambdas`` builds it once per container."""

    schema: FlightSchema
    stores: Stores
    settings: Settings
    gate: Gate | None = None

    async def resolve(self, event: Mapping[str, Any]) -> Any:
        """The value of the root field ``event`` asks for."""
        info = event.get("info") or {}
        field = str(info.get("fieldName", ""))
        parent = info.get("parentTypeName")
        if parent == "Subscription":
            return await self._subscribe(field, event.get("arguments") or {})
        if parent != "Query":
            raise ResolverError(f"only Query and Subscription fields resolve here, not {parent}")
        principal = _principal(event)
        if self.gate is not None and principal is not None:
            decision = await self.gate.admit(principal, "appsync")
            if not decision.allowed:
                raise ResolverError(
                    f"rate limit exceeded: retry in {decision.retry_after_s:.0f} s",
                    "RATE_LIMITED",
                )
        try:
            document = field_document(
                self.schema._schema,
                field,
                event.get("arguments") or {},
                str(info.get("selectionSetGraphQL") or ""),
                info.get("variables") or {},
            )
        except Exception as exc:  # a selection graphql-core cannot parse
            raise ResolverError(f"cannot run this selection of {field}: {exc}") from exc
        result = await self.schema.execute(document, context_value=self._context(principal))
        errors = mask_errors(result.errors)
        if errors:
            first = errors[0]
            code = (first.extensions or {}).get("code", "BAD_REQUEST")
            raise ResolverError("; ".join(e.message for e in errors), str(code))
        return (result.data or {}).get(field)

    async def _subscribe(self, field: str, given: Mapping[str, Any]) -> dict[str, Any] | None:
        """At subscribe time: the enhanced filter of the subscription (``appsync.tiles``),
        or ``None`` for no filter beyond AppSync's own on equal arguments."""
        until = datetime.now(UTC) + WATCH_FOR
        try:
            if field == "flightUpdates":
                found = subscription_filter(given)
                if codes := watched_alone(given):
                    await offload(self.stores.watches.watch, field, codes, until)
                return found
            if field == "trackUpdates":
                code = arguments.icao24(str(given.get("icao24", "")))
                if code != given.get("icao24"):
                    # AppSync compares the argument with the published icao24 as written.
                    raise ResolverError(
                        f'icao24 must be written as AppSync publishes it, "{code}", '
                        f"got {given.get('icao24')!r}",
                        "BAD_USER_INPUT",
                    )
                await offload(self.stores.watches.watch, field, [code], until)
        except InvalidArgument as exc:
            raise ResolverError(str(exc), "BAD_USER_INPUT") from exc
        return None

    def _context(self, principal: Principal | None) -> Context:
        # Strawberry's resolvers find the principal where the HTTP middleware puts it.
        request = SimpleNamespace(scope={SCOPE_PRINCIPAL: principal} if principal else {})
        return Context(
            stores=self.stores,
            settings=self.settings,
            loaders=make_loaders(self.stores, self.settings),
            request=request,
        )


def _principal(event: Mapping[str, Any]) -> Principal | None:
    identity = event.get("identity") or {}
    resolver_context = identity.get("resolverContext") if isinstance(identity, dict) else None
    return principal_from(resolver_context) if resolver_context else None
