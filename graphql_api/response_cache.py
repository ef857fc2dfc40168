"""Whole GraphQL responses in the read cache, keyed by the normalized query, its variables and the caller's scopes.

The row cache (``reader.Reader``) spares the warehouse; this spares the executor: a repeated
query answered from here resolves no field at all. It runs after every limit (depth,
aliases, tokens, cost), so a cached answer was accepted under the same limits, and it keeps
only answers without errors, so a field-level denial is never replayed to anybody.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any

import orjson
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from graphql_api.cache import ReadCache, is_missing
from graphql_api.documents import DocumentCache


def response_key(
    *, normal_form: str, operation_name: str | None, variables: dict[str, Any] | None, scopes: Any
) -> Hashable:
    """``normal_form``: the printed document (``DocumentCache.normal_form``), so spelling makes no new entry."""
    # Sorted-key JSON: {"a":1,"b":2} and {"b":2,"a":1} are the same variables.
    frozen_variables = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    return ("response", normal_form, operation_name, frozen_variables, frozenset(scopes))


class ResponseCache(SchemaExtension):
    """Answers a query from ``cache`` when the same caller scopes asked it with the same variables recently."""

    def __init__(self, *, cache: ReadCache, documents: DocumentCache) -> None:
        self.cache = cache
        self.documents = documents

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if (
            context.result is not None  # refused by a limit
            or context.query is None
            or document is None
            or context.operation_type is OperationType.SUBSCRIPTION  # a stream, not an answer
        ):
            yield
            return
        principal = getattr(context.context, "principal", None)
        key = response_key(
            normal_form=self.documents.normal_form(context.query, document),
            operation_name=context.operation_name,
            variables=context.variables,
            scopes=principal.scopes if principal is not None else (),
        )
        cached = self.cache.get(key)
        if not is_missing(cached):
            # A fresh result object per response: later extensions may attach to it.
            context.result = GraphQLExecutionResult(data=cached, errors=None)
            yield
            return
        yield
        result = context.result
        if isinstance(result, GraphQLExecutionResult) and not result.errors and result.data is not None:
            self.cache.put(key, result.data)
