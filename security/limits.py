"""Limits on what one GraphQL operation may ask for: tokens, depth, aliases, cost, and
which root fields need the ``admin`` scope.

A document is analysed once, when first seen (an LRU cache keyed by its text, as
Strawberry's parser and validation caches are), into one ``OperationShape`` per operation.
A repeat request costs a cache lookup and, only when a page size comes from a variable,
the evaluation of a small cost expression with the request's variables.

Cost: every field counts 1, times the number of items its enclosing lists may return. A
list's size is its page-size argument (``first``, ``last``, ``limit``: a literal, a variable,
or the argument's default), or, for the ``nodes``/``edges`` of a connection, the page size
given to the connection; sizes above ``MAX_PAGE_SIZE`` count as ``MAX_PAGE_SIZE`` (the
resolvers refuse them with their own error). Lists without a page size count as their
typical length (``LIST_SIZES``, else ``DEFAULT_LIST_SIZE``). Introspection (``__schema``,
``__type``) counts nothing and has no depth: GraphiQL's own query must pass.

Fragments are analysed once per use context, so that a document whose fragments spread
each other twice over ("fragment bombs") costs time linear in its size to analyse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeAlias

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    parse,
)

from security.principal import principal_of

SIZE_ARGUMENTS = ("first", "last", "limit")
DEFAULT_LIST_SIZE = 10
# Typical lengths of lists that take no page size.
LIST_SIZES = {
    "Track.points": 360,  # an hour of positions every 10 s (the default track window)
    "FlightUpdateBatch.flights": 1000,  # a subscription batch over a large box
    "TrafficDensity.cells": 1000,
}
# Root fields that need an API key with the admin scope: raw upstream records.
ADMIN_FIELDS = frozenset({"deadLetters"})
MULTIPLE_OPERATIONS = "Must provide operation name if query contains multiple operations."
_DOCUMENT_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class QueryLimits:
    max_depth: int = 12
    max_aliases: int = 20
    max_tokens: int = 2000
    max_cost: int = 250_000
    max_page_size: int = 1000
    introspection: bool = True

    @classmethod
    def from_settings(cls, settings: Any) -> QueryLimits:
        return cls(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_query_aliases,
            max_tokens=settings.max_query_tokens,
            max_cost=settings.max_query_cost,
            max_page_size=settings.max_page_size,
            introspection=settings.introspection,
        )


@dataclass(frozen=True, slots=True)
class _Var:
    """A page size from variable ``name``; ``fallback`` when it is absent or not an int."""

    name: str
    fallback: int


Size: TypeAlias = "int | _Var"


@dataclass(frozen=True, eq=False, slots=True)
class _Cost:
    """``const`` plus the sum of ``size * sub`` over ``products``: a cost that depends on
    variables. Costs that do not are plain ints."""

    const: int
    products: tuple[tuple[Size, Cost], ...]

    def evaluate(self, variables: Mapping[str, Any], cap: int, memo: dict[int, int]) -> int:
        held = memo.get(id(self))
        if held is not None:
            return held
        total = self.const
        for size, sub in self.products:
            n = size if isinstance(size, int) else _size_of(size, variables, cap)
            total += n * (sub if isinstance(sub, int) else sub.evaluate(variables, cap, memo))
        memo[id(self)] = total
        return total


Cost: TypeAlias = "int | _Cost"


def _size_of(var: _Var, variables: Mapping[str, Any], cap: int) -> int:
    value = variables.get(var.name)
    if type(value) is not int:
        return var.fallback
    return max(0, min(value, cap))


def _sum(costs: list[Cost]) -> Cost:
    const = 0
    products: list[tuple[Size, Cost]] = []
    for cost in costs:
        if isinstance(cost, int):
            const += cost
        else:
            const += cost.const
            products += cost.products
    return _Cost(const, tuple(products)) if products else const


def _field_cost(size: Size, sub: Cost) -> Cost:
    """``1 + size * sub``."""
    if isinstance(size, int) and isinstance(sub, int):
        return 1 + size * sub
    return _Cost(1, ((size, sub),))


@dataclass(slots=True)
class _Summary:
    cost: Cost = 0
    depth: int = 0
    aliases: int = 0
    introspection: bool = False
    admin: frozenset[str] = frozenset()

    def add(self, other: _Summary, costs: list[Cost]) -> None:
        costs.append(other.cost)
        self.depth = max(self.depth, other.depth)
        self.aliases += other.aliases
        self.introspection = self.introspection or other.introspection
        self.admin = self.admin | other.admin


@dataclass(frozen=True, slots=True)
class OperationShape:
    depth: int
    aliases: int
    cost: Cost
    introspection: bool
    admin_fields: frozenset[str]

    def cost_for(self, variables: Mapping[str, Any] | None, cap: int) -> int:
        if isinstance(self.cost, int):
            return self.cost
        return self.cost.evaluate(variables or {}, cap, {})


@dataclass(frozen=True, slots=True)
class DocumentShape:
    operations: Mapping[str | None, OperationShape] = field(default_factory=dict)
    error: GraphQLError | None = None

    def operation(self, name: str | None) -> OperationShape | None:
        if name:
            return self.operations.get(name)
        if len(self.operations) == 1:
            return next(iter(self.operations.values()))
        return None


class _Walker:
    """One operation's walk; fragments memoised per (name, pending page size, at root)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        defaults: Mapping[str, int],
        cap: int,
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._defaults = defaults
        self._cap = cap
        self._memo: dict[tuple[str, object, bool], _Summary] = {}
        self._active: set[str] = set()

    def selection(
        self, node: SelectionSetNode, parent: Any, pending: Size | None, root: bool
    ) -> _Summary:
        total = _Summary()
        costs: list[Cost] = []
        for sel in node.selections:
            if isinstance(sel, FieldNode):
                total.add(self._field(sel, parent, pending, root), costs)
            elif isinstance(sel, InlineFragmentNode):
                kind = parent
                if sel.type_condition is not None:
                    kind = self._schema.get_type(sel.type_condition.name.value) or parent
                total.add(self.selection(sel.selection_set, kind, pending, root), costs)
            elif isinstance(sel, FragmentSpreadNode):
                total.add(self._spread(sel.name.value, parent, pending, root), costs)
        total.cost = _sum(costs)
        return total

    def _spread(self, name: str, parent: Any, pending: Size | None, root: bool) -> _Summary:
        fragment = self._fragments.get(name)
        if fragment is None or name in self._active:
            return _Summary()  # validation reports unknown and cyclic fragments
        memo_key = (name, pending, root)
        held = self._memo.get(memo_key)
        if held is None:
            kind = self._schema.get_type(fragment.type_condition.name.value) or parent
            self._active.add(name)
            held = self.selection(fragment.selection_set, kind, pending, root)
            self._active.discard(name)
            self._memo[memo_key] = held
        return held

    def _field(self, node: FieldNode, parent: Any, pending: Size | None, root: bool) -> _Summary:
        name = node.name.value
        aliases = 1 if node.alias is not None else 0
        if name.startswith("__"):
            return _Summary(aliases=aliases, introspection=name in ("__schema", "__type"))
        admin = frozenset({name}) if root and name in ADMIN_FIELDS else frozenset()
        fields = getattr(parent, "fields", None)
        definition = fields.get(name) if fields else None
        if definition is None or node.selection_set is None:
            return _Summary(cost=1, depth=1, aliases=aliases, admin=admin)
        size = self._size(node, definition)
        kind = get_nullable_type(definition.type)
        if is_list_type(kind):
            if size is None:
                size = pending
            if size is None:
                size = LIST_SIZES.get(f"{parent.name}.{name}", DEFAULT_LIST_SIZE)
            sub = self.selection(node.selection_set, get_named_type(kind), None, False)
        else:
            sub = self.selection(node.selection_set, get_named_type(kind), size, False)
            size = 1
        return _Summary(
            cost=_field_cost(size, sub.cost),
            depth=1 + sub.depth,
            aliases=aliases + sub.aliases,
            introspection=sub.introspection,
            admin=admin,
        )

    def _size(self, node: FieldNode, definition: Any) -> Size | None:
        for name in SIZE_ARGUMENTS:
            argument = definition.args.get(name)
            if argument is None:
                continue
            default = argument.default_value
            fallback = default if type(default) is int else DEFAULT_LIST_SIZE
            fallback = max(0, min(fallback, self._cap))
            given = next((a.value for a in node.arguments or () if a.name.value == name), None)
            if given is None:
                return fallback
            if isinstance(given, IntValueNode):
                return max(0, min(int(given.value), self._cap))
            if isinstance(given, VariableNode):
                var = given.name.value
                return _Var(var, self._defaults.get(var, fallback))
            return fallback
        return None


def _root(schema: GraphQLSchema, operation: OperationDefinitionNode) -> Any:
    if operation.operation == OperationType.MUTATION:
        return schema.mutation_type
    if operation.operation == OperationType.SUBSCRIPTION:
        return schema.subscription_type
    return schema.query_type


def analyse(document: DocumentNode, schema: GraphQLSchema, cap: int) -> DocumentShape:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations: dict[str | None, OperationShape] = {}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        defaults = {
            v.variable.name.value: max(0, min(int(v.default_value.value), cap))
            for v in definition.variable_definitions or ()
            if isinstance(v.default_value, IntValueNode)
        }
        walker = _Walker(schema, fragments, defaults, cap)
        summary = walker.selection(definition.selection_set, _root(schema, definition), None, True)
        name = definition.name.value if definition.name else None
        operations[name] = OperationShape(
            depth=summary.depth,
            aliases=summary.aliases,
            cost=summary.cost,
            introspection=summary.introspection,
            admin_fields=summary.admin,
        )
    return DocumentShape(operations)


def _error(message: str, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


class QueryGuard:
    """Checks one operation against the limits and the caller's scopes, before Strawberry
    parses and validates it; ``check`` returns the error to answer with, or ``None``."""

    def __init__(self, schema: GraphQLSchema, limits: QueryLimits) -> None:
        self.limits = limits
        self._schema = schema
        self._shape = lru_cache(maxsize=_DOCUMENT_CACHE_SIZE)(self._analyse)

    def _analyse(self, query: str) -> DocumentShape:
        try:
            document = parse(query, max_tokens=self.limits.max_tokens)
        except GraphQLError as exc:
            if "tokens" in exc.message:
                return DocumentShape(
                    error=_error(
                        f"the query has more than {self.limits.max_tokens} tokens, the limit "
                        "(FLIGHTDATA_MAX_QUERY_TOKENS)",
                        "QUERY_TOO_LARGE",
                        limit=self.limits.max_tokens,
                    )
                )
            return DocumentShape()  # a syntax error: Strawberry reports it
        return analyse(document, self._schema, self.limits.max_page_size)

    def shape(self, query: str) -> DocumentShape:
        return self._shape(query)

    def check(
        self,
        query: str | None,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        context: Any,
    ) -> GraphQLError | None:
        if not query or not isinstance(query, str):
            return None
        shape = self._shape(query)
        if shape.error is not None:
            return shape.error
        op = shape.operation(operation_name)
        if op is None:
            if not operation_name and len(shape.operations) > 1:
                # The spec's GetOperation() fails here; Strawberry would run the first.
                return GraphQLError(MULTIPLE_OPERATIONS)
            return None  # no such operation: Strawberry says so
        limits = self.limits
        if op.depth > limits.max_depth:
            return _error(
                f"the query is {op.depth} fields deep; the limit is {limits.max_depth} "
                "(FLIGHTDATA_MAX_QUERY_DEPTH)",
                "QUERY_TOO_DEEP",
                depth=op.depth,
                limit=limits.max_depth,
            )
        if op.aliases > limits.max_aliases:
            return _error(
                f"the query uses {op.aliases} aliases; the limit is {limits.max_aliases} "
                "(FLIGHTDATA_MAX_QUERY_ALIASES)",
                "TOO_MANY_ALIASES",
                aliases=op.aliases,
                limit=limits.max_aliases,
            )
        if op.introspection and not limits.introspection:
            return _error(
                "introspection is disabled on this server (FLIGHTDATA_INTROSPECTION)",
                "INTROSPECTION_DISABLED",
            )
        cost = op.cost_for(variables, limits.max_page_size)
        if cost > limits.max_cost:
            return _error(
                f"the query's estimated cost is {cost:,}; the limit is {limits.max_cost:,} "
                "(FLIGHTDATA_MAX_QUERY_COST). Each field counts once per item its enclosing "
                "lists may return (page sizes included): ask for fewer items or fields",
                "QUERY_TOO_COSTLY",
                cost=cost,
                limit=limits.max_cost,
            )
        if op.admin_fields:
            principal = principal_of(context)
            if principal is not None and "admin" not in principal.scopes:
                fields = ", ".join(sorted(op.admin_fields))
                return _error(f"{fields} needs an API key with the admin scope", "FORBIDDEN")
        return None
