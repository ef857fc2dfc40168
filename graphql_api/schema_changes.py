"""What changed between two SDLs, and what it means for clients: breaking, dangerous or safe.

graphql-core finds the changes; this module grades them the way the SDL gate acts on them:

- **breaking** (the gate fails): an operation that worked stops validating or executing,
  e.g. a field, type, argument or enum value removed, a required argument added.
- **dangerous** (the gate warns, with the reason): every operation still validates, but
  what a client receives or what a field does can change under it, e.g. an enum value or
  union member added, an argument's default changed or added, a directive such as
  ``@requiresScope`` added to or removed from a field (who may read it changes), an output
  field made nullable (a client that assumed a value may now get null).
- everything else (a field or type added, a description changed, a deprecation) is safe.

The grading follows graphql-inspector's, with two choices of our own, each checked against
it in ``tests/graphql_api/test_schema_changes.py``: an output field made nullable is
dangerous here (graphql-core and graphql-inspector call it breaking: no query stops
validating, so the gate asks a reviewer instead of refusing), and an optional input field
added is safe (graphql-core calls it dangerous; existing clients never send it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    build_schema,
    print_ast,
)
from graphql.utilities.find_schema_changes import (
    BreakingChangeType,
    DangerousChangeType,
    SafeChangeType,
    find_schema_changes,
)

ChangeLevel = Literal["breaking", "dangerous"]

# Directives whose use on a definition is not a contract with clients (deprecation is its own,
# safe, signal), so adding or removing them is not reported.
_UNREPORTED_DIRECTIVES = frozenset({"deprecated", "specifiedBy", "include", "skip"})

_REASONS: dict[str, str] = {
    DangerousChangeType.VALUE_ADDED_TO_ENUM.name: (
        "clients that switch over this enum's values may not handle the new one"
    ),
    DangerousChangeType.TYPE_ADDED_TO_UNION.name: (
        "clients that branch on __typename or use fragments may not handle the new member"
    ),
    DangerousChangeType.OPTIONAL_ARG_ADDED.name: (
        "the field may now behave differently for clients that keep omitting the new argument"
    ),
    DangerousChangeType.IMPLEMENTED_INTERFACE_ADDED.name: (
        "the type now answers fragments on the interface, which can change what existing queries receive"
    ),
    DangerousChangeType.ARG_DEFAULT_VALUE_CHANGE.name: (
        "clients that omit this argument now get the new default's results"
    ),
    DangerousChangeType.INPUT_FIELD_DEFAULT_VALUE_CHANGE.name: (
        "clients that omit this input field now get the new default's behaviour"
    ),
    SafeChangeType.ARG_DEFAULT_VALUE_ADDED.name: "clients that omit this argument now get the default's results",
    SafeChangeType.INPUT_FIELD_DEFAULT_VALUE_ADDED.name: (
        "clients that omit this input field now get the default's behaviour"
    ),
    "FIELD_MADE_NULLABLE": (
        "no query stops validating, but a client that relied on a value always being there may now get null"
    ),
    "DIRECTIVE_USAGE_ADDED": "what the directive enforces now applies here (for @requiresScope: callers without "
    "the scope get an error where they got a value)",
    "DIRECTIVE_USAGE_REMOVED": "what the directive enforced no longer applies here (for @requiresScope: every "
    "caller now gets data that needed the scope)",
    "DIRECTIVE_USAGE_CHANGED": "the directive now enforces something else here",
}
# graphql-core's grading, where the gate's differs (see the module docstring).
_REGRADED: dict[str, ChangeLevel | None] = {
    DangerousChangeType.OPTIONAL_INPUT_FIELD_ADDED.name: None,
    SafeChangeType.ARG_DEFAULT_VALUE_ADDED.name: "dangerous",
    SafeChangeType.INPUT_FIELD_DEFAULT_VALUE_ADDED.name: "dangerous",
}


@dataclass(frozen=True)
class SchemaChange:
    kind: str  # graphql-core's change type name, or one of ours (FIELD_MADE_NULLABLE, DIRECTIVE_USAGE_*)
    level: ChangeLevel
    description: str
    reason: str = ""  # why a dangerous change can still hurt a client

    def __str__(self) -> str:
        text = f"{self.kind}: {self.description}"
        return f"{text} ({self.reason})" if self.reason else text


def schema_changes(old_sdl: str, new_sdl: str) -> list[SchemaChange]:
    """Every breaking or dangerous change from ``old_sdl`` to ``new_sdl``, breaking ones first."""
    old, new = build_schema(old_sdl), build_schema(new_sdl)
    found: list[SchemaChange] = []
    for change in find_schema_changes(old, new):
        kind = change.type.name
        if kind == BreakingChangeType.FIELD_CHANGED_KIND.name and _only_made_nullable(old, new, change.description):
            nullable = "FIELD_MADE_NULLABLE"
            found.append(SchemaChange(nullable, "dangerous", change.description, _REASONS[nullable]))
            continue
        level: ChangeLevel | None
        if kind in _REGRADED:
            level = _REGRADED[kind]
        elif isinstance(change.type, BreakingChangeType):
            level = "breaking"
        elif isinstance(change.type, DangerousChangeType):
            level = "dangerous"
        else:
            level = None
        if level is not None:
            reason = _REASONS.get(kind, "") if level == "dangerous" else ""
            found.append(SchemaChange(kind, level, change.description, reason))
    found.extend(_directive_usage_changes(old, new))
    return sorted(found, key=lambda c: c.level != "breaking")


# -- output fields made nullable ----------------------------------------------------------------


def _only_made_nullable(old: GraphQLSchema, new: GraphQLSchema, description: str) -> bool:
    """Whether a FIELD_CHANGED_KIND change ("Field T.f changed type from A to B.") only drops
    non-null markers: the same type, with fewer guarantees."""
    for type_name, field_name, old_field, new_field in _common_output_fields(old, new):
        if description.startswith(f"Field {type_name}.{field_name} changed type"):
            return _loosened(old_field.type, new_field.type)
    return False


def _loosened(old: GraphQLType, new: GraphQLType) -> bool:
    """``new`` is ``old`` with one or more ``!`` dropped (and nothing else changed)."""

    def walk(old_type: GraphQLType, new_type: GraphQLType) -> tuple[bool, bool]:  # (same shape, loosened)
        if isinstance(old_type, GraphQLNonNull):
            if isinstance(new_type, GraphQLNonNull):
                return walk(old_type.of_type, new_type.of_type)
            shape, _ = walk(old_type.of_type, new_type)
            return shape, True
        if isinstance(new_type, GraphQLNonNull):
            return False, False  # a stricter type is not a loosening
        if isinstance(old_type, GraphQLList) and isinstance(new_type, GraphQLList):
            return walk(old_type.of_type, new_type.of_type)
        if isinstance(old_type, GraphQLList) or isinstance(new_type, GraphQLList):
            return False, False
        return getattr(old_type, "name", None) == getattr(new_type, "name", None), False

    shape, loosened = walk(old, new)
    return shape and loosened


def _common_output_fields(
    old: GraphQLSchema, new: GraphQLSchema
) -> Iterator[tuple[str, str, GraphQLField, GraphQLField]]:
    for name, old_type in old.type_map.items():
        new_type = new.type_map.get(name)
        if isinstance(old_type, GraphQLObjectType | GraphQLInterfaceType) and isinstance(
            new_type, GraphQLObjectType | GraphQLInterfaceType
        ):
            for field_name, old_field in old_type.fields.items():
                if field_name in new_type.fields:
                    yield name, field_name, old_field, new_type.fields[field_name]


# -- directive usages ---------------------------------------------------------------------------

_Element = GraphQLNamedType | GraphQLField | GraphQLArgument | GraphQLInputField | GraphQLEnumValue


def _directive_usage_changes(old: GraphQLSchema, new: GraphQLSchema) -> Iterator[SchemaChange]:
    """Directives applied to a type, field, argument, input field or enum value, added or removed."""
    for where, old_element, new_element in _common_elements(old, new):
        before, after = _usages(old_element), _usages(new_element)
        for name in sorted(before.keys() | after.keys()):
            if name not in after:
                kind, text = "DIRECTIVE_USAGE_REMOVED", f"Directive @{name} was removed from {where}."
            elif name not in before:
                kind, text = "DIRECTIVE_USAGE_ADDED", f"Directive @{name} was added to {where}."
            elif before[name] != after[name]:
                kind, text = "DIRECTIVE_USAGE_CHANGED", f"Directive {before[name]} on {where} became {after[name]}."
            else:
                continue
            yield SchemaChange(kind, "dangerous", text, _REASONS[kind])


def _usages(element: _Element) -> dict[str, str]:
    node = element.ast_node
    directives = getattr(node, "directives", None) or ()
    return {d.name.value: print_ast(d) for d in directives if d.name.value not in _UNREPORTED_DIRECTIVES}


def _common_elements(old: GraphQLSchema, new: GraphQLSchema) -> Iterator[tuple[str, _Element, _Element]]:
    for name, old_type in old.type_map.items():
        new_type = new.type_map.get(name)
        if new_type is None or type(new_type) is not type(old_type) or name.startswith("__"):
            continue
        yield f"type {name}", old_type, new_type
        if isinstance(old_type, GraphQLObjectType | GraphQLInterfaceType):
            assert isinstance(new_type, GraphQLObjectType | GraphQLInterfaceType)
            for field_name, old_field in old_type.fields.items():
                new_field = new_type.fields.get(field_name)
                if new_field is None:
                    continue
                yield f"field {name}.{field_name}", old_field, new_field
                for arg_name, old_arg in old_field.args.items():
                    if arg_name in new_field.args:
                        yield f"argument {name}.{field_name}({arg_name}:)", old_arg, new_field.args[arg_name]
        elif isinstance(old_type, GraphQLInputObjectType):
            assert isinstance(new_type, GraphQLInputObjectType)
            for field_name, old_input in old_type.fields.items():
                if field_name in new_type.fields:
                    yield f"input field {name}.{field_name}", old_input, new_type.fields[field_name]
        elif isinstance(old_type, GraphQLEnumType):
            assert isinstance(new_type, GraphQLEnumType)
            for value_name, old_value in old_type.values.items():
                if value_name in new_type.values:
                    yield f"enum value {name}.{value_name}", old_value, new_type.values[value_name]
