"""Protection before execution: a cost estimate (with the page-size cap) and a wall-clock timeout.

Depth and alias limits are validation rules, the length and token limits apply before parsing
(``documents``); this module adds what they cannot see: the variables. A query's cost is
estimated from its document *and* its variables, coerced the way execution will coerce them
(defaults applied, ``null`` kept as "unset"), before any resolver runs, so a rejected query
issues no warehouse read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.extensions import SchemaExtension

# Assumed size of a list field that has no ``first`` argument (timelines, deliveries, rosters).
LIST_SIZE_ESTIMATE = 10


class QueryRejectedError(GraphQLError):
    """A query refused before execution; ``extensions.code`` says which limit."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, extensions={"code": code})


# Hand-rolled on purpose: Strawberry has no query-complexity extension to use instead. Its
# ``QueryComplexityEstimator`` exists only as an unmerged pull request (strawberry-graphql/strawberry
# #3721); strawberry-graphql 0.341.2, the newest release on PyPI, ships no such extension (nor any
# module naming "complexity"). This walker is the shape that extension proposes: a default cost of 1
# per field and a field estimator that multiplies the selection by ``first``.
class CostLimiter(SchemaExtension):
    """Rejects queries whose estimated cost exceeds ``max_cost`` or that ask for a page above ``max_page_size``.

    Cost: every field is 1; a list field multiplies the cost of what it selects by its ``first``
    argument (or the default page size), or by ``LIST_SIZE_ESTIMATE`` when it has none. The
    estimate is reported in the response's ``extensions.cost``.
    """

    def __init__(self, *, max_cost: int, max_page_size: int, default_page_size: int) -> None:
        self.max_cost = max_cost
        self.max_page_size = max_page_size
        self.default_page_size = default_page_size
        self.cost: int | None = None

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            try:
                self.cost = estimate_cost(
                    context.schema._schema,
                    document.definitions,
                    operation_name=context.operation_name,
                    variables=context.variables or {},
                    default_page_size=self.default_page_size,
                    max_page_size=self.max_page_size,
                )
                if self.cost > self.max_cost:
                    raise QueryRejectedError(
                        f"query cost {self.cost} exceeds the limit of {self.max_cost}: "
                        "ask for smaller pages or fewer nested lists",
                        code="QUERY_TOO_COSTLY",
                    )
            except QueryRejectedError as rejected:
                # Setting the result makes Strawberry skip execution entirely: no resolver runs.
                context.result = GraphQLExecutionResult(data=None, errors=[rejected])
        yield

    def get_results(self) -> dict[str, Any]:
        return {"cost": {"estimated": self.cost, "limit": self.max_cost}} if self.cost is not None else {}


def estimate_cost(
    schema: GraphQLSchema,
    definitions: Any,
    *,
    operation_name: str | None,
    variables: Mapping[str, Any],
    default_page_size: int,
    max_page_size: int,
) -> int:
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if not operations:
        return 0
    operation = operations[0]
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables))
    if isinstance(coerced, list):
        return 0  # invalid variables: execution reports them and runs no resolver
    walker = _CostWalker(
        schema=schema,
        fragments=fragments,
        variables=coerced,
        default_page_size=default_page_size,
        max_page_size=max_page_size,
    )
    return walker.selection_cost(operation.selection_set, root)


class _CostWalker:
    def __init__(
        self,
        *,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
        default_page_size: int,
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size

    def selection_cost(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType) -> int:
        if selection_set is None or not isinstance(parent, GraphQLObjectType):
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field_cost(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_cost(selection.selection_set, target or parent)
            elif isinstance(selection, FragmentSpreadNode):
                # Validation already refused unknown and cyclic fragments; every spread is counted,
                # so a fragment-expanded alias bomb costs what it would really run.
                fragment = self.fragments[selection.name.value]
                target = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selection_cost(fragment.selection_set, target or parent)
        return total

    def field_cost(self, node: FieldNode, parent: GraphQLObjectType) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 1
        definition = parent.fields.get(name)
        if definition is None:
            return 1
        field_type = definition.type
        if isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        is_list = isinstance(field_type, GraphQLList)
        while isinstance(field_type, GraphQLList | GraphQLNonNull):
            field_type = field_type.of_type
        multiplier = 1
        if "first" in definition.args:
            multiplier = self.page_size(node, definition)
        elif is_list and not parent.name.endswith("Connection"):  # a connection's edges are sized by `first`
            multiplier = LIST_SIZE_ESTIMATE
        return 1 + multiplier * self.selection_cost(node.selection_set, field_type)

    def page_size(self, node: FieldNode, definition: GraphQLField) -> int:
        """``first`` as execution will see it: literal, variable (or its default), or unset/``null`` = the default."""
        try:
            value: Any = get_argument_values(definition, node, self.variables).get("first")
        except GraphQLError:
            return self.default_page_size  # a bad literal: validation or execution reports it
        if value is None:
            value = self.default_page_size
        if not isinstance(value, int) or value < 0 or value > self.max_page_size:
            raise QueryRejectedError(
                f"first={value} is outside 0..{self.max_page_size}: page through the results with `after`",
                code="PAGE_TOO_LARGE",
            )
        return max(value, 1)
