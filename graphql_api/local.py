"""Run a GraphQL query in-process (``logistics demo``, scripts): same schema, reader and limits as the server."""

from __future__ import annotations

from typing import Any

import anyio

from graphql_api.auth import READ, Principal
from graphql_api.cache import ReadCache
from graphql_api.context import RequestContext
from graphql_api.precise import Revealer
from graphql_api.reader import ConnectSource, Reader
from graphql_api.schema import build_schema
from logistics.settings import Settings


def run_query(
    settings: Settings,
    query: str,
    *,
    variables: dict[str, Any] | None = None,
    scopes: frozenset[str] = frozenset({READ}),
) -> dict[str, Any]:
    """``{"data": ..., "errors": [...]}`` for one query, read from the configured warehouse."""
    # One query: the adapter's own short read-only connection, not a snapshot copy of the file.
    reader = Reader(ConnectSource(settings), ReadCache(ttl_seconds=0, max_entries=1))
    try:
        principal = Principal(name="local", scopes=scopes)
        context = RequestContext(reader=reader, principal=principal, api=settings.api, revealer=Revealer(settings))
        schema = build_schema(settings.api)
        # Resolvers are async (DataLoaders): run the operation in an event loop of our own.
        result = anyio.run(lambda: schema.execute(query, variable_values=variables, context_value=context))
    finally:
        reader.close()
    return {"data": result.data, "errors": [str(e) for e in result.errors or []]}
