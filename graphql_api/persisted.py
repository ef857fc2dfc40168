"""Persisted queries, Apollo's protocol (automatic persisted queries, APQ).

A client sends ``{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "..."}}}``:
- the hash alone: the document registered under it runs, or the error ``PersistedQueryNotFound``
  (``extensions.code`` ``PERSISTED_QUERY_NOT_FOUND``), on which Apollo's ``PersistedQueryLink``
  sends the hash again with the query text;
- the hash and the query: the hash must be the text's SHA-256 (else ``PERSISTED_QUERY_HASH_MISMATCH``);
  the query runs, and once it parsed and validated it is registered under its hash.

Documents committed under ``graphql_api/persisted/`` are always registered. Client
registrations live in a per-process store bounded in bytes: another process (or instance)
that has not seen a hash answers ``PersistedQueryNotFound`` and the client re-sends the text,
as the protocol expects. With ``api.persisted_queries_only`` only the committed documents run:
ad-hoc documents and client registrations are refused, which closes the door on hand-crafted
abusive queries entirely.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import PreExecutionError

from graphql_api.cache import ByteBudgetLRU

PERSISTED_DIR = Path(__file__).resolve().parent / "persisted"
NOT_FOUND = "PersistedQueryNotFound"  # the message Apollo's link looks for


def load_registry(directory: Path = PERSISTED_DIR) -> dict[str, str]:
    """sha256 hex -> document text, for every ``*.graphql`` file."""
    documents = (path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.graphql")))
    return {sha256_hex(text): text for text in documents}


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class RegisteredQueries:
    """Query texts clients registered by hash (this process), at most ``max_bytes`` of text."""

    def __init__(self, *, max_bytes: int) -> None:
        self._texts: ByteBudgetLRU[str, str] = ByteBudgetLRU(max_bytes=max_bytes)

    def get(self, digest: str) -> str | None:
        return self._texts.get(digest)

    def register(self, digest: str, query: str) -> None:
        self._texts.put(digest, query, weight=len(digest) + len(query.encode("utf-8", "surrogatepass")))


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class PersistedQueries(SchemaExtension):
    def __init__(self, *, registry: dict[str, str], registered: RegisteredQueries, only: bool) -> None:
        self.registry = registry
        self.registered = registered
        self.only = only

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        requested = (context.operation_extensions or {}).get("persistedQuery")
        to_register: str | None = None
        if requested is not None:
            digest = _requested_hash(requested)
            if context.query is None:
                document = self.registry.get(digest)
                if document is None and not self.only:
                    document = self.registered.get(digest)
                if document is None:
                    raise _error(NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND")
                context.query = document
            elif sha256_hex(context.query) != digest:
                raise _error("provided sha256Hash does not match the query", "PERSISTED_QUERY_HASH_MISMATCH")
            elif digest not in self.registry:
                self._refuse_ad_hoc()
                to_register = digest
        elif self.only and context.query is not None and sha256_hex(context.query) not in self.registry:
            self._refuse_ad_hoc()
        yield
        ran = context.result is not None and not isinstance(context.result, PreExecutionError)
        if to_register is not None and context.query is not None and ran:
            self.registered.register(to_register, context.query)  # it parsed and validated: worth keeping

    def _refuse_ad_hoc(self) -> None:
        if self.only:
            raise _error(
                "only persisted queries are accepted here: send extensions.persistedQuery.sha256Hash "
                "of a registered document",
                "PERSISTED_QUERY_ONLY",
            )


def _requested_hash(requested: object) -> str:
    digest = requested.get("sha256Hash") if isinstance(requested, dict) else None
    version = requested.get("version") if isinstance(requested, dict) else None
    if version != 1 or not isinstance(digest, str) or len(digest) != 64:
        raise _error(
            'extensions.persistedQuery must be {"version": 1, "sha256Hash": "<64 hex digits>"}',
            "PERSISTED_QUERY_INVALID",
        )
    return digest.lower()
