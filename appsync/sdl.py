"""The AppSync schema, generated from the Strawberry schema's SDL.

``schema.graphql`` beside this file is the committed result; ``flightdata schema export``
writes it with the Strawberry SDL and a test fails when it drifts. What differs from the
Strawberry SDL, and why:

- AppSync has no custom scalars: ``DateTime`` is ``AWSDateTime`` and ``JSON`` is
  ``AWSJSON`` (the same ISO 8601 strings and JSON values on the wire). A new custom scalar
  fails the export until it is given its AppSync counterpart in ``SCALARS``.
- ``= null`` argument defaults are dropped (an absent argument is null all the same).
- Clients authorise with an API key through the Lambda authorizer (the default mode);
  the processor publishes with IAM. The types a publication returns carry both
  ``@aws_lambda`` and ``@aws_iam``; the publishing mutations carry ``@aws_iam`` alone.
- ``Mutation`` has the two publications, each a subscription's source
  (``@aws_subscribe``): ``publishFlightUpdates(tile:, batch:)`` and
  ``publishTrackUpdate(icao24:, point:)``. ``FlightUpdateBatch.tile`` and ``.aircraft``
  and ``TrackPoint.icao24`` exist only here: the payload fields that subscriptions filter
  on.
  Subscription fields are nullable here (``FlightUpdateBatch``, not ``!``): the same
  documents are valid, and the value at subscribe time is null.
"""

from __future__ import annotations

from pathlib import Path

from graphql import (
    DocumentNode,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    build_ast_schema,
    get_named_type,
    parse,
    print_ast,
)
from graphql.language import (
    ConstArgumentNode,
    ConstDirectiveNode,
    ConstListValueNode,
    FieldDefinitionNode,
    InputValueDefinitionNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    NullValueNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    StringValueNode,
    Visitor,
    visit,
)

SDL_PATH = Path(__file__).with_name("schema.graphql")

# Strawberry's custom scalars and their AppSync counterparts.
SCALARS = {"DateTime": "AWSDateTime", "JSON": "AWSJSON"}

# Mutation -> (subscription it feeds, payload field it filters on and its description).
PUBLICATIONS = {
    "publishFlightUpdates": ("flightUpdates", "FlightUpdateBatch", "tile"),
    "publishTrackUpdate": ("trackUpdates", "TrackPoint", "icao24"),
}

_MUTATION = '''
"""Publications of each ingest cycle's changes (the processor, with IAM)."""
type Mutation {
  """One cycle's changes inside one tile"""
  publishFlightUpdates(tile: String!, batch: AWSJSON!): FlightUpdateBatch @aws_iam

  """One aircraft's new position"""
  publishTrackUpdate(icao24: String!, point: AWSJSON!): TrackPoint @aws_iam
}

schema {
  query: Query
  mutation: Mutation
  subscription: Subscription
}
'''

# What AppSync defines itself (the part this schema uses), to validate the generated SDL.
PRELUDE = """
scalar AWSDateTime
scalar AWSJSON
directive @aws_lambda on OBJECT | FIELD_DEFINITION
directive @aws_iam on OBJECT | FIELD_DEFINITION
directive @aws_subscribe(mutations: [String]) on FIELD_DEFINITION
"""

_FILTER_FIELDS = {
    "FlightUpdateBatch": (
        ("tile", "The tile this batch covers (AppSync publications)"),
        (
            "aircraft",
            "The one aircraft this batch carries, if watched alone (AppSync publications)",
        ),
    ),
    "TrackPoint": (("icao24", "The aircraft (AppSync publications)"),),
}


class UnknownScalar(ValueError):
    """A custom scalar without an AppSync counterpart in ``SCALARS``."""

    def __init__(self, name: str) -> None:
        super().__init__(f"scalar {name} has no AppSync counterpart: add it to appsync.sdl.SCALARS")
        self.name = name


def _directive(name: str, **arguments: str) -> ConstDirectiveNode:
    return ConstDirectiveNode(
        name=NameNode(value=name),
        arguments=tuple(
            ConstArgumentNode(
                name=NameNode(value=key),
                value=ConstListValueNode(values=(StringValueNode(value=value),)),
            )
            for key, value in arguments.items()
        ),
    )


def _field(name: str, description: str) -> FieldDefinitionNode:
    """A nullable ``String`` field."""
    return FieldDefinitionNode(
        name=NameNode(value=name),
        description=StringValueNode(value=description, block=True),
        arguments=(),
        type=NamedTypeNode(name=NameNode(value="String")),
        directives=(),
    )


class _ToAppSync(Visitor):
    """Scalars renamed, null defaults dropped, custom scalar definitions removed."""

    def enter_scalar_type_definition(self, node: ScalarTypeDefinitionNode, *_: object) -> object:
        if node.name.value not in SCALARS:
            raise UnknownScalar(node.name.value)
        return self.REMOVE

    def enter_named_type(self, node: NamedTypeNode, *_: object) -> NamedTypeNode | None:
        renamed = SCALARS.get(node.name.value)
        return None if renamed is None else NamedTypeNode(name=NameNode(value=renamed))

    def leave_input_value_definition(
        self, node: InputValueDefinitionNode, *_: object
    ) -> InputValueDefinitionNode | None:
        if isinstance(node.default_value, NullValueNode):
            return InputValueDefinitionNode(
                name=node.name,
                description=node.description,
                type=node.type,
                default_value=None,
                directives=node.directives,
            )
        return None


def _published_types(schema: GraphQLSchema) -> set[str]:
    """The object types a publication can return, nested ones included."""
    seen: set[str] = set()
    todo: list[GraphQLNamedType] = [schema.type_map[t] for _, t, _ in PUBLICATIONS.values()]
    while todo:
        named = todo.pop()
        if not isinstance(named, GraphQLObjectType) or named.name in seen:
            continue
        seen.add(named.name)
        todo.extend(get_named_type(f.type) for f in named.fields.values())
    return seen


def _with_directives(document: DocumentNode, published: set[str]) -> DocumentNode:
    subscribed = {sub: mutation for mutation, (sub, _, _) in PUBLICATIONS.items()}
    definitions = []
    for definition in document.definitions:
        if isinstance(definition, ObjectTypeDefinitionNode):
            name = definition.name.value
            fields = list(definition.fields or ())
            directives = list(definition.directives or ())
            if name in published:
                directives += [_directive("aws_lambda"), _directive("aws_iam")]
            fields += [_field(f, description) for f, description in _FILTER_FIELDS.get(name, ())]
            if name == "Subscription":
                fields = [_subscribed(f, subscribed) for f in fields]
            definition = ObjectTypeDefinitionNode(
                name=definition.name,
                description=definition.description,
                interfaces=definition.interfaces,
                directives=tuple(directives),
                fields=tuple(fields),
            )
        definitions.append(definition)
    return DocumentNode(definitions=tuple(definitions))


def _subscribed(field: FieldDefinitionNode, subscribed: dict[str, str]) -> FieldDefinitionNode:
    mutation = subscribed[field.name.value]
    return FieldDefinitionNode(
        name=field.name,
        description=field.description,
        arguments=field.arguments,
        # Nullable: at subscribe time the field resolves to null (AppSync's resolver, the
        # local simulator's too); each publication then yields a value.
        type=field.type.type if isinstance(field.type, NonNullTypeNode) else field.type,
        directives=(*(field.directives or ()), _directive("aws_subscribe", mutations=mutation)),
    )


def appsync_sdl(strawberry_sdl: str) -> str:
    """The AppSync schema of the Strawberry schema whose SDL is ``strawberry_sdl``."""
    document = visit(parse(strawberry_sdl), _ToAppSync())
    document = parse(print_ast(document) + _MUTATION)
    published = _published_types(build(document))
    return print_ast(_with_directives(document, published)) + "\n"


def build(document: DocumentNode | str) -> GraphQLSchema:
    """The schema of an AppSync SDL, with AppSync's own scalars and directives."""
    sdl = document if isinstance(document, str) else print_ast(document)
    return build_ast_schema(parse(PRELUDE + sdl))
