"""Whole GraphQL responses in the read cache, keyed by the normalized query, its variables and the caller's scopes.

The row cache (``reader.Reader``) spares the warehouse; this spares the executor: a repeated
query answered from here resolves no field at all. It runs after every limit (depth,
aliases, tokens, cost), so a cached answer was accepted under the same limits, and it keeps
only answers without errors, so a field-level denial is never replayed to anybody.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from functools import lru_cache
from typing import Any

import orjson
from graphql import parse, print_ast
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from graphql_api.cache import ReadCache, is_missing

_NORMALIZED_QUERIES = 512  # distinct query texts whose normal form is remembered


@lru_cache(maxsize=_NORMALIZED_QUERIES)
def normalized_query(query: str) -> str:
    """One text per document: whitespace, commas and comments do not make a new cache entry."""
    return print_ast(parse(query, no_location=True))


def response_key(*, query: str, operation_name: str | None, variables: dict[str, Any] | None, scopes: Any) -> Hashable:
    # Sorted-key JSON: {"a":1,"b":2} and {"b":2,"a":1} are the same variables.
    frozen_variables = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    return ("response", normalized_query(query), operation_name, frozen_variables, frozenset(scopes))


class ResponseCache(SchemaExtension):
    """Answers a query from ``cache`` when the same caller scopes asked it with the same variables recently."""

    def __init__(self, *, cache: ReadCache) -> None:
        self.cache = cache

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is not None or context.query is None:  # rejected by a limit, or nothing to key on
            yield
            return
        principal = getattr(context.context, "principal", None)
        key = response_key(
            query=context.query,
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
