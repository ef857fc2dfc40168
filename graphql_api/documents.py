"""Parsed and validated documents: limits on the raw text, parsing off the event loop, a cache bounded in bytes.

A query's text is checked before anything reads it: longer than ``max_query_bytes`` (comments
and whitespace count, unlike tokens) is refused without parsing. A long text is parsed in a
worker thread, so the event loop keeps answering (``/health``, cached reads) meanwhile. Each
distinct text is parsed and validated once and kept in a cache whose budget is in bytes: a
parsed document keeps every token of its text (~600 bytes each, measured), so a count of
entries bounds nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import anyio.to_thread
from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    print_ast,
    validate,
)
from strawberry.extensions import SchemaExtension

from graphql_api.cache import ByteBudgetLRU
from graphql_api.protection import QueryRejectedError

# Texts up to this long are parsed on the event loop: ~1 ms at most, less than a thread hop
# costs under load. Longer ones (up to max_query_bytes: ~50 ms at 2,000 tokens) go to a thread.
INLINE_PARSE_CHARS = 4_096
# What a parsed document retains per token of its text (the token objects, its AST nodes and
# their locations), measured with tracemalloc on graphql-core 3.3: 500-600 bytes.
BYTES_PER_TOKEN = 600


@dataclass
class PreparedDocument:
    """One query text, parsed; its validation errors once validated; its printed normal form once asked."""

    document: DocumentNode
    weight: int  # bytes this entry is charged in the cache
    errors: list[GraphQLError] | None = None
    normal_form: str | None = None


class DocumentCache:
    """Prepared documents by query text, at most ``max_bytes`` of them (estimated, see BYTES_PER_TOKEN)."""

    def __init__(self, *, max_bytes: int) -> None:
        self._entries: ByteBudgetLRU[str, PreparedDocument] = ByteBudgetLRU(max_bytes=max_bytes)

    def get(self, query: str) -> PreparedDocument | None:
        return self._entries.get(query)

    def put(self, query: str, document: DocumentNode) -> PreparedDocument:
        entry = PreparedDocument(document=document, weight=document_weight(query, document))
        self._entries.put(query, entry, weight=entry.weight)  # too heavy: used for this request only
        return entry

    def normal_form(self, query: str, document: DocumentNode) -> str:
        """The document printed back: whitespace, commas and comments make no difference to it."""
        entry = self.get(query)
        if entry is None:
            return print_ast(document)
        if entry.normal_form is None:
            entry.normal_form = print_ast(entry.document)
        return entry.normal_form

    @property
    def size_bytes(self) -> int:
        return self._entries.size_bytes

    def __len__(self) -> int:
        return len(self._entries)


def document_weight(query: str, document: DocumentNode) -> int:
    """Bytes a cached document holds: its text (key and normal form) and what its tokens retain."""
    tokens = 0
    token = document.loc.start_token if document.loc else None
    while token is not None:
        tokens += 1
        token = token.next
    return 2 * len(query.encode("utf-8", "surrogatepass")) + tokens * BYTES_PER_TOKEN


def operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


class PreparedDocuments(SchemaExtension):
    """Replaces Strawberry's parse and validation steps: length limit, token limit, off-loop parse, the cache."""

    def __init__(
        self,
        *,
        cache: DocumentCache,
        max_query_bytes: int,
        max_tokens: int,
        hide_suggestions: bool,
    ) -> None:
        self.cache = cache
        self.max_query_bytes = max_query_bytes
        self.max_tokens = max_tokens
        self.hide_suggestions = hide_suggestions
        self.prepared: PreparedDocument | None = None

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        query = context.query
        if query is None or context.graphql_document is not None:
            yield
            return
        prepared = self.cache.get(query)
        if prepared is None:
            if len(query) > self.max_query_bytes:  # characters: never more than the bytes
                raise QueryRejectedError(
                    f"the query text is longer than {self.max_query_bytes} characters: send a shorter document "
                    "(comments and whitespace count), or a persisted query's hash",
                    code="QUERY_TOO_LONG",
                )
            if len(query) <= INLINE_PARSE_CHARS:
                document = self._parse(query)
            else:
                document = await anyio.to_thread.run_sync(self._parse, query)
            prepared = self.cache.put(query, document)
        self.prepared = prepared
        _require_operation_name(prepared.document, getattr(context, "_provided_operation_name", None))
        context.graphql_document = prepared.document
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        prepared = self.prepared
        if prepared is not None and context.pre_execution_errors is None:
            if prepared.errors is None:
                # The rules (the spec's, depth, aliases, introspection) are the same for every request
                # of this schema, and the cache belongs to the schema: a text's errors stay valid.
                prepared.errors = validate(
                    context.schema._schema,
                    prepared.document,
                    context.validation_rules,
                    hide_suggestions=self.hide_suggestions,
                )
            # Strawberry skips its own validation when errors (even none) are already set.
            context.pre_execution_errors = list(prepared.errors)
        yield

    def _parse(self, query: str) -> DocumentNode:
        return parse(query, max_tokens=self.max_tokens)


def _require_operation_name(document: DocumentNode, provided: str | None) -> None:
    """The spec: a document with several operations needs ``operationName`` (Strawberry would run the first)."""
    if provided is None and len(operations(document)) > 1:
        raise GraphQLError(
            "the document holds several operations: send operationName to choose one",
            extensions={"code": "OPERATION_NAME_REQUIRED"},
        )
