"""The GraphQL document that answers one AppSync field invocation.

AppSync calls the direct Lambda resolver of a root ``Query`` field with the field's
``arguments`` (variables already applied) and, in ``info``, its selection as GraphQL text
(``selectionSetGraphQL``) and the operation's ``variables``. The document rebuilt here is
``query { field(arguments) selection }`` with every variable replaced by its value, so the
Strawberry schema runs exactly the selection the client asked for.

Aliases are dropped: AppSync reads the fields of the returned object by their names and
applies the client's aliases itself. A selection that asks for one field twice under two
aliases with different arguments cannot be answered that way, and is refused with
Strawberry's own "fields conflict" error; so is a named fragment, whose definition the
selection does not carry (inline fragments work).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    VariableNode,
    get_nullable_type,
    parse,
    print_ast,
)
from graphql.language import (
    BooleanValueNode,
    EnumValueNode,
    FloatValueNode,
    IntValueNode,
    ListValueNode,
    NameNode,
    NullValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    StringValueNode,
    Visitor,
    visit,
)


class _Rewrite(Visitor):
    """Aliases dropped and variables replaced by their values' literals."""

    def __init__(self, type_info: TypeInfo, variables: Mapping[str, Any]) -> None:
        super().__init__()
        self.type_info = type_info
        self.variables = variables

    def leave_field(self, node: FieldNode, *_: object) -> FieldNode | None:
        if node.alias is None:
            return None
        return FieldNode(
            name=node.name,
            arguments=node.arguments,
            directives=node.directives,
            selection_set=node.selection_set,
        )

    def enter_variable(self, node: VariableNode, *_: object) -> ValueNode | None:
        expected = self.type_info.get_input_type()
        if expected is None:
            return None
        return _literal(self.variables.get(node.name.value), expected)


def _literal(value: Any, expected: GraphQLInputType) -> ValueNode:
    """The literal of a JSON ``value`` (as AppSync passes it) for an input of ``expected``
    type. Scalars are written as they came: ``DateTime`` strings stay strings."""
    kind = get_nullable_type(expected)
    if value is None:
        return NullValueNode()
    if isinstance(kind, GraphQLList):
        items = value if isinstance(value, list) else [value]
        return ListValueNode(values=tuple(_literal(v, kind.of_type) for v in items))
    if isinstance(kind, GraphQLInputObjectType) and isinstance(value, dict):
        return ObjectValueNode(
            fields=tuple(
                ObjectFieldNode(name=NameNode(value=k), value=_literal(v, kind.fields[k].type))
                for k, v in value.items()
                if k in kind.fields
            )
        )
    if isinstance(kind, GraphQLEnumType):
        return EnumValueNode(value=str(value))
    return _json(value)


def _json(value: Any) -> ValueNode:
    if value is None:
        return NullValueNode()
    if isinstance(value, bool):
        return BooleanValueNode(value=value)
    if isinstance(value, int):
        return IntValueNode(value=str(value))
    if isinstance(value, float):
        return FloatValueNode(value=repr(value))
    if isinstance(value, list):
        return ListValueNode(values=tuple(_json(v) for v in value))
    if isinstance(value, dict):
        return ObjectValueNode(
            fields=tuple(
                ObjectFieldNode(name=NameNode(value=str(k)), value=_json(v))
                for k, v in value.items()
            )
        )
    return StringValueNode(value=str(value))


def field_document(
    schema: GraphQLSchema,
    field: str,
    arguments: Mapping[str, Any],
    selection: str,
    variables: Mapping[str, Any],
) -> str:
    """The query that runs ``field(arguments) selection`` of ``Query`` in ``schema``."""
    query = schema.query_type
    definition = query.fields.get(field) if query is not None else None
    if definition is None:
        raise ValueError(f"Query has no field {field!r}")
    args = ", ".join(
        f"{name}: {print_ast(_literal(value, definition.args[name].type))}"
        for name, value in arguments.items()
        if name in definition.args
    )
    document = parse(f"query {{ {field}{f'({args})' if args else ''} {selection} }}")
    type_info = TypeInfo(schema)
    rewritten = visit(document, TypeInfoVisitor(type_info, _Rewrite(type_info, variables)))
    return print_ast(rewritten)
