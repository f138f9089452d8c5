"""A graphql-core executor that completes lists of plain objects without per-field overhead.

``FastExecutionContext`` is passed to ``strawberry.Schema(...,
execution_context_class=FastExecutionContext)``. For every list whose items are of an
object type, it looks at the collected sub-selection once (graphql-core's own field
collection, so fragments, inline fragments and ``@skip``/``@include`` are evaluated
exactly as usual) and, if every selected field is "plain", builds each item's response
dict straight from attribute reads instead of going through ``execute_fields`` /
``execute_field`` / ``complete_value`` per field.

A selected field is plain when it is ``__typename``, or when all of these hold:

* its Strawberry resolver is the ``_get_basic_result`` fast path (no custom resolver,
  no permission classes, no field extensions, no exception handlers) and the
  ``StrawberryField`` does not override ``get_result``;
* it takes no arguments and its unwrapped type is a scalar or an enum;
* its field nodes carry no directives besides ``@skip``/``@include``.

Invariants (the reason this class is safe to use):

* The response is identical to the default executor's, ``data`` and ``errors`` alike.
  The fast path only ever writes values the default path would have produced; leaves
  go through the leaf type's ``coerce_output_value`` (graphql-core 3.3's name for
  ``serialize``; a Strawberry scalar's ``serialize`` is installed there), except for
  exact ``str``/``int``/``float``/``bool`` values on the built-in scalars, where that
  coercion is the identity, and Strawberry enum members, whose coerced name is
  memoised per member for the execution.
* The fast path never produces an error itself. Whenever an item is not trivially
  completable (it is ``None`` in a non-null position, an exception, awaitable, fails
  ``is_type_of``, an attribute read raises, a value is ``None`` in a non-null field,
  coercion fails or yields ``None``, a value is awaitable), that single item is
  completed by graphql-core's own ``complete_list_item_value``, which raises or
  records the exact error at the exact path and applies null propagation.
* Anything else — abstract item types, lists of lists, ``@stream``, ``@defer`` inside
  the selection, middleware (schema extensions that hook ``resolve``), fields with
  arguments, resolvers or sub-selections — makes the whole list take the default path.

Shared objects: an item that carries a dict attribute named ``RESPONSE_MEMO`` declares
itself immutable and shared between executions (the ``Flight`` objects of one live-update
cycle go to every subscriber). Its completed dict is memoised there per plan signature
(item type and the selected response keys and attributes) and reused as is by later
executions that select the same plain fields. Only dicts the fast path built are
memoised; items that fall back are completed afresh each time. A memoised dict is a
``SharedResponse``: ``encode_json`` encodes it once however many responses hold it.

Subscription events: ``render_event`` builds an event's data straight from the event
object, without executing the operation, when the operation's root field is a Strawberry
subscription field (its event resolver returns the event) of an object type whose selected
fields are all plain leaves, lists of ``String``/``ID``, or lists of plain shared objects.
The lists of shared objects are ``SharedList``s (a box selection's: ``SlicedList``s, made
of its rows' items), handed to orjson as their items' fragments in one call. The same
invariants hold: any value the fast path would not produce as is sends the whole event
down the default path.

Consequence of the per-item fallback: for an item that falls back, its attributes
are read a second time by the default path. Plain attributes make that harmless;
properties with side effects would see a second call on that (error) path only.
"""

from __future__ import annotations

import time
from contextlib import suppress
from enum import Enum
from itertools import compress
from math import isfinite
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, Final, NamedTuple
from weakref import WeakMethod

import orjson
from graphql import (
    FieldNode,
    GraphQLBoolean,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfoHelpers,
    GraphQLString,
    OperationType,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import collect_fields
from graphql.execution.executor import collect_iterator_awaitables
from graphql.pyutils import gather_with_cancel
from graphql.type.introspection import TypeNameMetaFieldDef
from graphql.type.scalars import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    serialize_boolean,
    serialize_float,
    serialize_id,
    serialize_int,
    serialize_string,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from live.filtering import Part, Runs, Sliced, joined

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from graphql import GraphQLField, GraphQLLeafType, GraphQLResolveInfo
    from graphql.execution.collect_fields import FieldDetailsList
    from graphql.execution.incremental.incremental_executor import DeliveryGroupMap
    from graphql.pyutils import AwaitableOrValue, Path

__all__ = [
    "RESPONSE_MEMO",
    "FastExecutionContext",
    "SharedList",
    "SharedResponse",
    "complete_ahead",
    "encode_json",
]

# What a value check needs beyond an exact type match before the value can be used
# as-is: Int must fit in 32 bits, Float must be finite.
_CHECK_NONE: Final = 0
_CHECK_INT: Final = 1
_CHECK_FLOAT: Final = 2
# Exact type is a Strawberry enum class: the serialized name is memoised per member.
_CHECK_MEMO: Final = 3

_ALLOWED_FIELD_DIRECTIVES: Final = frozenset({"skip", "include"})

# Name strawberry gives the resolver of a field without resolver, permissions,
# extensions or exception handlers (schema_converter.from_resolver). Anything else
# may depend on `info`, arguments or wrappers, so it must run through the default path.
_BASIC_RESOLVER_NAME: Final = "_get_basic_result"


class _NeverAValue:
    """Type of no runtime value: the fast-type slot of leaves that always coerce."""


class FieldPlan(NamedTuple):
    """How to produce one response entry of a plain sub-field.

    ``read`` is ``None`` for ``__typename``; then ``attribute_name`` holds the type name.
    """

    response_key: str
    attribute_name: str
    read: Callable[[Any, str], Any] | None
    fast_type: type[Any]
    check: int
    coerce: Callable[[Any], Any]
    is_non_null: bool
    memo: dict[Any, Any]


class ListPlan(NamedTuple):
    """The per-(field nodes, item type) recipe for completing items of a list."""

    fields: tuple[FieldPlan, ...]
    item_type: GraphQLObjectType
    item_non_null: bool
    # The item type and the selected response keys and attributes, as one str: a memo
    # key whose hash is computed once (a tuple's is computed on every lookup).
    signature: str


class ObjectsPlan(NamedTuple):
    """A field of a subscription event's root object that lists plain objects."""

    response_key: str
    attribute_name: str
    read: Callable[[Any, str], Any]
    is_non_null: bool
    items: ListPlan


class LeavesPlan(NamedTuple):
    """A field of a subscription event's root object that lists ``String`` or ``ID``
    values (their coercion is the identity for a ``str``)."""

    response_key: str
    attribute_name: str
    read: Callable[[Any, str], Any]
    is_non_null: bool
    # The types its items may have as they are: ``str``, and ``None``'s if nullable.
    item_types: frozenset[type]


class EventPlan(NamedTuple):
    """How to build one subscription event's data straight from its root object: the
    root field's response key, the object's plain fields, the lists among them, and the
    response keys in the order the response has them."""

    root_key: str
    leaves: tuple[FieldPlan, ...]
    lists: tuple[ObjectsPlan | LeavesPlan, ...]
    order: tuple[str, ...]


RESPONSE_MEMO: Final = "_response_memo"
_NOT_YET: Final[Any] = object()
_memo_of: Final = attrgetter(RESPONSE_MEMO)


class SharedResponse(dict[str, Any]):
    """The completed dict of a shared item, a plain dict to every reader, that keeps its
    JSON as a fragment: a cycle's flight is encoded once, not once per subscriber that
    gets it."""

    __slots__ = ("encoded",)
    encoded: orjson.Fragment


def _shared(data: dict[str, Any]) -> SharedResponse:
    """``data`` as a ``SharedResponse``, its JSON made once, now.

    The JSON is copied out of what orjson returns: that keeps the buffer it was written
    in, 4 KiB at least, and a cycle's 5,400 flights of about 200 bytes each, kept for as
    long as they are live, held 21 MiB instead of 1 MiB for each selection."""
    shared = SharedResponse(data)
    shared.encoded = orjson.Fragment(bytes(memoryview(orjson.dumps(data))))
    return shared


class SharedList(list[Any]):
    """A completed list of ``SharedResponse`` items, a plain list to every reader, that
    ``encode_json`` hands to orjson as their fragments in one call instead of calling
    back into Python for each item (a subscriber's batch holds hundreds). ``fragments``,
    when known, are the items' fragments in the same order."""

    __slots__ = ("fragments",)

    def __init__(
        self, items: Iterable[Any] = (), fragments: list[orjson.Fragment] | None = None
    ) -> None:
        super().__init__(items)
        self.fragments = fragments


class SlicedList(Runs):
    """The completed items of a box selection (``Sliced``), whose rows were each completed
    once a cycle for the selection: to a reader, the sequence of their dicts; to
    ``encode_json``, their fragments. A subscriber's batch is encoded without a reference
    taken to each of its hundreds of dicts (``python -m bench.subscriber_path``)."""

    __slots__ = ("_signature", "fragments")

    def __init__(self, parts: list[Part], signature: Any, fragments: list[orjson.Fragment]):
        super().__init__(parts)
        self._signature = signature
        self.fragments = fragments

    def join(self) -> list[Any]:
        signature = self._signature
        return joined(self.parts, lambda row: row.derived[signature][0])

    def __len__(self) -> int:
        return len(self.fragments)


_fragment_of: Final = attrgetter("encoded")

# The plans of the lists of shared items that subscription events completed lately (by
# signature), with what completes them and when one was last used: ``complete_ahead``
# completes new items for them. At most this many, each kept for this long after its
# last use.
_AHEAD_PLANS = 4
_AHEAD_TTL_S = 60.0
_ahead: dict[str, tuple[ListPlan, Callable[[Any], bool], float]] = {}


def _used_for_shared(plan: ListPlan, is_awaitable: Callable[[Any], bool]) -> None:
    _ahead[plan.signature] = (plan, is_awaitable, time.monotonic())
    if len(_ahead) > _AHEAD_PLANS:
        del _ahead[min(_ahead, key=lambda signature: _ahead[signature][2])]


def complete_ahead(item: Any) -> None:
    """Complete the shared ``item`` (it carries ``RESPONSE_MEMO``) now for each selection
    whose subscription events completed shared items in the last minute, as a later event
    would when it first lists it.

    A live hub makes each cycle's flights ahead of its subscribers, between requests
    (``UpdateHub``, with the API's ``shared_flight``); completed there too, the flights
    of each latitude row are not completed by the first subscriber whose batch takes the
    row, 5 to 25 ms of the event loop for each of the first subscribers of a cycle. Safe
    to call from any thread: a selection's dict may then be made twice; either is kept."""
    memo = getattr(item, RESPONSE_MEMO)
    now = time.monotonic()
    for plan, is_awaitable, used in tuple(_ahead.values()):
        if plan.signature in memo or now - used > _AHEAD_TTL_S:
            continue
        data = _fast_item(plan.fields, plan.item_type.is_type_of, None, item, is_awaitable)
        if data is not None:
            memo[plan.signature] = _shared(data)


def encode_json(value: object) -> bytes:
    """``value`` as orjson encodes it, each ``SharedResponse`` in it encoded only once."""
    return orjson.dumps(value, default=_encoded, option=orjson.OPT_PASSTHROUGH_SUBCLASS)


def _encoded(value: object) -> orjson.Fragment | list[orjson.Fragment]:
    if type(value) is SlicedList:
        return value.fragments
    if type(value) is SharedList:
        fragments = value.fragments
        return list(map(_fragment_of, value)) if fragments is None else fragments
    if type(value) is SharedResponse:
        return value.encoded
    # Another subclass of str, int, dict or list: what orjson makes of it without the option.
    return orjson.Fragment(orjson.dumps(value))


# Built-in scalars whose coercion returns the value unchanged for exactly this type
# (and, for Int/Float, within range / finite). Checked against the coercer too, so a
# patched built-in scalar is simply treated like a custom one.
_IDENTITY_LEAVES: Final[dict[int, tuple[GraphQLLeafType, Callable[[Any], Any], type, int]]] = {
    id(GraphQLString): (GraphQLString, serialize_string, str, _CHECK_NONE),
    id(GraphQLID): (GraphQLID, serialize_id, str, _CHECK_NONE),
    id(GraphQLInt): (GraphQLInt, serialize_int, int, _CHECK_INT),
    id(GraphQLFloat): (GraphQLFloat, serialize_float, float, _CHECK_FLOAT),
    id(GraphQLBoolean): (GraphQLBoolean, serialize_boolean, bool, _CHECK_NONE),
}


def _fast_type_for(leaf: GraphQLLeafType) -> tuple[type[Any], int]:
    entry = _IDENTITY_LEAVES.get(id(leaf))
    if entry is not None:
        builtin, coercer, fast_type, check = entry
        if builtin is leaf and leaf.coerce_output_value is coercer:
            return fast_type, check
        return _NeverAValue, _CHECK_NONE
    # Strawberry's enum coercion scans every enum value per call; for a member of the
    # wrapped class its result depends on nothing but the member, so it can be
    # memoised. Only when the coercer is Strawberry's own, unchanged.
    method = getattr(leaf.coerce_output_value, "__func__", None)
    wrapped = getattr(leaf, "wrapped_cls", None)
    if (
        isinstance(leaf, CustomGraphQLEnumType)
        and method is CustomGraphQLEnumType.coerce_output_value
        and isinstance(wrapped, type)
        and issubclass(wrapped, Enum)
    ):
        return wrapped, _CHECK_MEMO
    return _NeverAValue, _CHECK_NONE


def _basic_strawberry_field(field_def: GraphQLField) -> StrawberryField | None:
    """The StrawberryField behind ``field_def`` if its resolver is a bare attribute read."""
    resolve = field_def.resolve
    if resolve is None or getattr(resolve, "__name__", None) != _BASIC_RESOLVER_NAME:
        return None
    if getattr(resolve, "_is_default", False) is not True:
        return None
    extensions = field_def.extensions or {}
    field = extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(field, StrawberryField) or not field.is_basic_field:
        return None
    # `_get_basic_result` calls `field.get_result`; a subclass overriding it is not a
    # plain read, and a resolver closing over another field object is not this field.
    if type(field).get_result is not StrawberryField.get_result:
        return None
    closure = getattr(resolve, "__closure__", None) or ()
    if not any(cell.cell_contents is field for cell in closure):
        return None
    return field


def _field_plan(
    schema_field: GraphQLField | None,
    response_key: str,
    field_details_list: FieldDetailsList,
    parent_type: GraphQLObjectType,
) -> FieldPlan | None:
    if schema_field is None:
        return None
    for details in field_details_list:
        node = details.node
        if node.arguments or node.selection_set:
            return None
        if any(d.name.value not in _ALLOWED_FIELD_DIRECTIVES for d in node.directives or ()):
            return None
    if schema_field.args:
        return None
    field_type = schema_field.type
    leaf = get_named_type(field_type)
    # A list of leaves is not a leaf position: the default path completes each element.
    unwrapped = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if not is_leaf_type(leaf) or unwrapped is not leaf:
        return None
    is_non_null = is_non_null_type(field_type)

    if schema_field is TypeNameMetaFieldDef:
        # The default path resolves `info.parent_type.name`, a str, through String!.
        return FieldPlan(
            response_key, parent_type.name, None, str, _CHECK_NONE, str, is_non_null, {}
        )

    strawberry_field = _basic_strawberry_field(schema_field)
    if strawberry_field is None:
        return None
    fast_type, check = _fast_type_for(leaf)
    return FieldPlan(
        response_key,
        strawberry_field.python_name,
        strawberry_field.default_resolver,
        fast_type,
        check,
        leaf.coerce_output_value,
        is_non_null,
        {},
    )


def _fast_item(
    fields: tuple[FieldPlan, ...],
    is_type_of: Callable[[Any, GraphQLResolveInfo[Any]], Any] | None,
    info: GraphQLResolveInfo[Any] | None,
    item: Any,
    is_awaitable: Callable[[Any], bool],
) -> dict[str, Any] | None:
    """The completed dict for ``item``, or ``None`` if the default path must handle it."""
    if item is None or isinstance(item, Exception) or is_awaitable(item):
        return None
    if is_type_of is not None:
        # Anything but a plain True (False, awaitable, raising) is the default
        # path's business: it produces the "Expected value of type" error.
        try:
            if info is None or is_type_of(item, info) is not True:
                return None
        except Exception:
            return None
    return _build_item(fields, item, is_awaitable)


def _build_item(
    fields: tuple[FieldPlan, ...],
    item: Any,
    is_awaitable: Callable[[Any], bool],
) -> dict[str, Any] | None:
    """The completed dict for ``item``'s plain fields, or ``None`` to fall back.

    Kept as one flat loop: it runs once per list item and is the whole fast path.
    """
    data: dict[str, Any] = {}
    for key, name, read, fast_type, check, coerce, is_non_null, memo in fields:
        if read is None:
            data[key] = name
            continue
        try:
            value = read(item, name)
        except Exception:
            return None
        if type(value) is fast_type:
            if (
                check == _CHECK_NONE
                or (check == _CHECK_INT and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT)
                or (check == _CHECK_FLOAT and isfinite(value))
            ):
                data[key] = value
                continue
            if check == _CHECK_MEMO and (serialized := memo.get(value)) is not None:
                data[key] = serialized
                continue
        if value is None or value is Undefined:
            if is_non_null:
                return None
            data[key] = None
            continue
        if isinstance(value, Exception) or is_awaitable(value):
            return None
        try:
            coerced = coerce(value)
        except Exception:
            return None
        if coerced is None or coerced is Undefined:
            return None
        if check == _CHECK_MEMO and type(value) is fast_type:
            memo[value] = coerced
        data[key] = coerced
    return data


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with a fast path for lists of plain objects."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core's helpers hold bound methods of the context: a reference cycle that
        # only the garbage collector frees, with everything the execution built. Held
        # weakly, a finished execution is freed at once (see ``_weakly``).
        self.async_helpers = GraphQLResolveInfoHelpers(
            gather=_weakly(self.gather_async_work), track=_weakly(self.track_async_work)
        )
        # Keyed by the identities of the selection's field nodes (and defer usages): the
        # same selection of the same document gets the same plan, also in the per-event
        # executors of a subscription, which are `copy(self)` and share this dict (their
        # field details lists are new for every event; their nodes are not). The field
        # details list is kept beside the plan so the nodes stay alive and their ids
        # unique. Plans depend only on the operation and its variables, which the dict
        # never outlives.
        self._list_plans: dict[
            tuple[tuple[tuple[int, int], ...], GraphQLObjectType],
            tuple[FieldDetailsList, ListPlan | None],
        ] = {}
        # The subscription's event plan once built (``None``: events take the default
        # path), shared with the per-event executors as ``_list_plans`` is.
        self._event_plan: list[EventPlan | None] = []

    def render_event(self, root: Any) -> dict[str, Any] | None:
        """The data of the subscription event ``root``, built without executing the
        operation, or ``None``: execute it as usual.

        Built when the operation's one root field is a Strawberry subscription field
        (whose event resolver returns the event itself) of an object type, and every
        field selected on that object is plain (as in a list plan), a list of ``String``
        or ``ID``, or a list of plain objects that are shared (``RESPONSE_MEMO``). Any
        value the fast path would not produce (``None`` where the schema says non-null,
        an item not shared, a value of another type) sends the whole event to the
        default path, which produces the same data or the exact errors."""
        if not self._event_plan:
            try:
                self._event_plan.append(self._build_event_plan())
            except Exception:  # the default path raises or reports it where it should
                self._event_plan.append(None)
        plan = self._event_plan[0]
        if plan is None or root is None:
            return None
        values = _build_item(plan.leaves, root, self.is_awaitable)
        if values is None:
            return None
        for part in plan.lists:
            try:
                value = part.read(root, part.attribute_name)
            except Exception:
                return None
            if value is None:
                if part.is_non_null:
                    return None
                values[part.response_key] = None
                continue
            if type(value) is Sliced and isinstance(part, ObjectsPlan):
                sliced = self._sliced(part, value)
                if sliced is None:
                    return None
                values[part.response_key] = sliced
                continue
            if type(value) is not list:
                return None
            if isinstance(part, LeavesPlan):
                if value and not set(map(type, value)) <= part.item_types:
                    return None
                values[part.response_key] = list(value)
                continue
            _used_for_shared(part.items, self.is_awaitable)
            shared = self._completed_shared(part.items, None, value)
            if shared is None:  # not shared: completed per execution, by default
                return None
            values[part.response_key] = shared
        return {plan.root_key: {key: values[key] for key in plan.order}}

    def _sliced(self, plan: ObjectsPlan, value: Sliced) -> SlicedList | None:
        """``value`` completed from its rows, each completed once for the selection and
        sliced as ``value`` is; ``None`` if an item of a row needs the default path."""
        signature = plan.items.signature
        fragments: list[orjson.Fragment] = []
        for items, first, last, keep in value.parts:
            row = items.derived.get(signature, _NOT_YET)
            if row is _NOT_YET:
                row = items.derived[signature] = self._completed_row(plan, items)
            if row is None:
                return None
            encoded = row[1][first:last]
            fragments += encoded if keep is None else compress(encoded, keep)
        return SlicedList(value.parts, signature, fragments)

    def _completed_row(
        self, plan: ObjectsPlan, items: list[Any]
    ) -> tuple[SharedList, list[orjson.Fragment]] | None:
        """Each of ``items`` completed (and memoised) for ``plan``, with its fragment;
        ``None`` if one of them is not shared or needs the default path."""
        _used_for_shared(plan.items, self.is_awaitable)
        completed = self._completed_shared(plan.items, None, items)
        return None if completed is None else (completed, list(map(_fragment_of, completed)))

    def _build_event_plan(self) -> EventPlan | None:
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:
            return None
        operation = self.operation
        root_type = self.schema.get_root_type(operation.operation)
        if operation.operation is not OperationType.SUBSCRIPTION or root_type is None:
            return None
        root_fields, defer_usages, _ = collect_fields(
            self.schema,
            self.fragments,
            self.variable_values,
            root_type,
            operation,
            self.hide_suggestions,
        )
        if defer_usages or len(root_fields) != 1:
            return None
        ((root_key, root_details),) = root_fields.items()
        root_field = self.schema.get_field(root_type, root_details[0].node.name.value)
        if root_field is None or not _returns_its_event(root_field):
            return None
        if any(_has_other_directives(d.node) for d in root_details):
            return None
        object_type = get_nullable_type(root_field.type)
        if not is_object_type(object_type) or object_type.is_type_of is not None:
            return None
        fields, defer_usages, _ = self.collect_subfields(object_type, root_details)
        if defer_usages:
            return None
        leaves: list[FieldPlan] = []
        lists: list[ObjectsPlan | LeavesPlan] = []
        for response_key, sub_details in fields.items():
            schema_field = self.schema.get_field(object_type, sub_details[0].node.name.value)
            leaf = _field_plan(schema_field, response_key, sub_details, object_type)
            if leaf is not None:
                leaves.append(leaf)
                continue
            listed = self._list_field_plan(schema_field, response_key, sub_details)
            if listed is None:
                return None
            lists.append(listed)
        return EventPlan(root_key, tuple(leaves), tuple(lists), tuple(fields))

    def _list_field_plan(
        self, schema_field: GraphQLField | None, response_key: str, details: FieldDetailsList
    ) -> ObjectsPlan | LeavesPlan | None:
        """The plan of a list field of an event's root object, if it is one that
        ``render_event`` completes."""
        if schema_field is None or schema_field.args:
            return None
        if any(d.node.arguments or _has_other_directives(d.node) for d in details):
            return None
        strawberry_field = _basic_strawberry_field(schema_field)
        list_type = get_nullable_type(schema_field.type)
        if strawberry_field is None or not is_list_type(list_type):
            return None
        item_type = list_type.of_type
        item = get_nullable_type(item_type)
        name, read = strawberry_field.python_name, strawberry_field.default_resolver
        is_non_null = is_non_null_type(schema_field.type)
        if is_leaf_type(item):
            if details[0].node.selection_set or _fast_type_for(item) != (str, _CHECK_NONE):
                return None
            types: frozenset[type] = frozenset(
                (str,) if is_non_null_type(item_type) else (str, type(None))
            )
            return LeavesPlan(response_key, name, read, is_non_null, types)
        if not is_object_type(item) or item.is_type_of is not None:
            return None
        items = self._list_plan(item_type, details)
        if items is None:
            return None
        return ObjectsPlan(response_key, name, read, is_non_null, items)

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Iterable[Any],
        position_context: DeliveryGroupMap | None,
    ) -> AwaitableOrValue[list[Any]]:
        plan = None
        # A non-None position context means deferred delivery is in play; streaming
        # completes items one by one elsewhere. Both stay on the default path.
        if position_context is None and self.get_stream_usage(field_details_list, path) is None:
            plan = self._list_plan(item_type, field_details_list)
        if plan is None:
            return super().complete_iterable_value(
                item_type, field_details_list, info, path, items, position_context
            )
        return self._complete_plain_items(plan, item_type, field_details_list, info, path, items)

    def _list_plan(
        self, item_type: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> ListPlan | None:
        item_non_null = is_non_null_type(item_type)
        object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if not is_object_type(object_type):
            return None
        key = (
            tuple((id(fd.node), id(fd.defer_usage)) for fd in field_details_list),
            object_type,
        )
        cached = self._list_plans.get(key)
        if cached is not None:
            return cached[1]
        try:
            plan = self._build_list_plan(object_type, item_non_null, field_details_list)
        except Exception:
            # Let the default path hit (or not, for an empty list) the same error at
            # the point where it would normally surface.
            plan = None
        self._list_plans[key] = (field_details_list, plan)
        return plan

    def _build_list_plan(
        self,
        object_type: GraphQLObjectType,
        item_non_null: bool,
        field_details_list: FieldDetailsList,
    ) -> ListPlan | None:
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:
            return None
        grouped_field_set, new_defer_usages, _ = self.collect_subfields(
            object_type, field_details_list
        )
        if new_defer_usages:
            return None
        fields: list[FieldPlan] = []
        for response_key, sub_details in grouped_field_set.items():
            schema_field = self.schema.get_field(object_type, sub_details[0].node.name.value)
            field_plan = _field_plan(schema_field, response_key, sub_details, object_type)
            if field_plan is None:
                return None
            fields.append(field_plan)
        signature = repr(
            (object_type.name, tuple((f.response_key, f.attribute_name) for f in fields))
        )
        return ListPlan(tuple(fields), object_type, item_non_null, signature)

    def _complete_plain_items(
        self,
        plan: ListPlan,
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Iterable[Any],
    ) -> AwaitableOrValue[list[Any]]:
        """Mirror of ``Executor.complete_iterable_value`` (no stream) using the plan."""
        # Every item shared: completed in passes in C. Any other miss (an item not shared,
        # or one the fast path cannot complete) takes the loop below.
        if type(items) is list:
            shared = self._completed_shared(plan, info, items)
            if shared is not None:
                return shared
        is_awaitable = self.is_awaitable
        fields = plan.fields
        signature = plan.signature
        item_non_null = plan.item_non_null
        is_type_of = plan.item_type.is_type_of
        completed_results: list[Any] = []
        append_completed = completed_results.append
        awaitable_indices: list[int] = []
        iterator = iter(items)
        index = 0
        try:
            for item in iterator:
                if item is None and not item_non_null:
                    append_completed(None)
                elif (memo := getattr(item, RESPONSE_MEMO, None)) is not None and (
                    data := memo.get(signature)
                ) is not None:
                    append_completed(data)
                elif (data := _fast_item(fields, is_type_of, info, item, is_awaitable)) is not None:
                    if memo is not None:
                        data = memo[signature] = _shared(data)
                    append_completed(data)
                elif self._complete_item_by_default(
                    item,
                    completed_results,
                    item_type,
                    field_details_list,
                    info,
                    path.add_key(index, None),
                ):
                    awaitable_indices.append(index)
                index += 1
        except Exception:
            # Same clean-up as the default path: settle what is already in flight,
            # including awaitable items the iterator still holds.
            pending = [completed_results[i] for i in awaitable_indices]
            pending.extend(collect_iterator_awaitables(iterator, is_awaitable))
            if pending:
                self.settle_in_background(pending)
            raise

        if not awaitable_indices:
            return completed_results
        return _await_items(completed_results, awaitable_indices)

    def _completed_shared(
        self, plan: ListPlan, info: GraphQLResolveInfo[Any] | None, items: list[Any]
    ) -> SharedList | None:
        """The shared ``items`` completed for ``plan``: each one's memoised dict, made now
        for those not completed yet. ``None`` if an item is not shared or needs the default
        path (what was completed meanwhile stays memoised)."""
        signature = plan.signature
        completed = itemgetter(signature)
        try:
            memos = list(map(_memo_of, items))
            with suppress(KeyError):  # every item completed for this selection already
                return SharedList(map(completed, memos))
            for item, memo in [
                (i, m) for i, m in zip(items, memos, strict=True) if signature not in m
            ]:
                data = _fast_item(
                    plan.fields, plan.item_type.is_type_of, info, item, self.is_awaitable
                )
                if data is None:
                    return None
                memo[signature] = _shared(data)
        except (AttributeError, TypeError):  # an item not shared
            return None
        return SharedList(map(completed, memos))

    def _complete_item_by_default(
        self,
        item: Any,
        completed_results: list[Any],
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        item_path: Path,
    ) -> bool:
        """Complete one item exactly as the default path would; True if awaitable."""
        if self.is_awaitable(item):
            completed_results.append(
                self.complete_awaitable_list_item_value(
                    item, item_type, field_details_list, info, item_path, None
                )
            )
            return True
        return self.complete_list_item_value(
            item, completed_results, item_type, field_details_list, info, item_path, None
        )


def _has_other_directives(node: FieldNode) -> bool:
    return any(d.name.value not in _ALLOWED_FIELD_DIRECTIVES for d in node.directives or ())


# The event resolver Strawberry gives every subscription field: ``lambda event, *_, **__:
# event`` (``GraphQLCoreConverter.from_field``). Its response is the event itself.
_EVENT_RESOLVER_NAME: Final = "GraphQLCoreConverter.from_field.<locals>.<lambda>"


def _returns_its_event(field_def: GraphQLField) -> bool:
    field = (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    resolve = field_def.resolve
    return (
        isinstance(field, StrawberryField)
        and field.is_subscription
        and getattr(resolve, "__qualname__", None) == _EVENT_RESOLVER_NAME
        and getattr(resolve, "__module__", None) == GraphQLCoreConverter.__module__
    )


def _weakly(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` without a strong reference to its object.

    Every HTTP query otherwise left about 90 objects in reference cycles (the context, its
    plans, field details, loaders); the collector then freed tens of thousands at once,
    in pauses of 80 to 120 ms of the API's event loop (``python -m bench.soak``)."""
    ref = WeakMethod(method)

    def call(*args: Any, **kwargs: Any) -> Any:
        bound = ref()
        if bound is None:
            raise RuntimeError("the execution these helpers belong to has ended")
        return bound(*args, **kwargs)

    return call


async def _await_items(completed_results: list[Any], awaitable_indices: list[int]) -> list[Any]:
    if len(awaitable_indices) == 1:
        index = awaitable_indices[0]
        completed_results[index] = await completed_results[index]
        return completed_results
    awaited = await gather_with_cancel(*(completed_results[i] for i in awaitable_indices))
    for index, value in zip(awaitable_indices, awaited, strict=True):
        completed_results[index] = value
    return completed_results
