"""Persisted queries: documents registered under ``graphql_api/persisted/``, addressed by SHA-256.

A client sends ``{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "..."}}}`` (Apollo's
format) instead of the query text. With ``api.persisted_queries_only`` the API runs nothing else:
ad-hoc documents are refused, which closes the door on hand-crafted abusive queries entirely.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

PERSISTED_DIR = Path(__file__).resolve().parent / "persisted"


def load_registry(directory: Path = PERSISTED_DIR) -> dict[str, str]:
    """sha256 hex -> document text, for every ``*.graphql`` file."""
    documents = (path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.graphql")))
    return {hashlib.sha256(text.encode()).hexdigest(): text for text in documents}


class PersistedQueries(SchemaExtension):
    def __init__(self, *, registry: dict[str, str], only: bool) -> None:
        self.registry = registry
        self.only = only

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        requested = (context.operation_extensions or {}).get("persistedQuery")
        digest = requested.get("sha256Hash") if isinstance(requested, dict) else None
        if isinstance(digest, str):
            document = self.registry.get(digest)
            if document is None:
                raise GraphQLError("PersistedQueryNotFound", extensions={"code": "PERSISTED_QUERY_NOT_FOUND"})
            context.query = document
        elif (
            self.only
            and context.query is not None
            and hashlib.sha256(context.query.encode()).hexdigest() not in self.registry
        ):
            raise GraphQLError(
                "only persisted queries are accepted here: send extensions.persistedQuery.sha256Hash",
                extensions={"code": "PERSISTED_QUERY_ONLY"},
            )
        yield
