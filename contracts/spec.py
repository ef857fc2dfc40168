"""The small runtime description of the registry that generated code is built from.

:mod:`contracts.registry` reads the authored files into these types; codegen writes
them out as ``contracts/generated/catalog.py`` so running code never parses YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PiiPolicyName = Literal["mask", "tokenize", "redact"]
MaskPattern = Literal["email", "phone", "name", "generic"]


@dataclass(frozen=True)
class PiiRule:
    path: str  # dotted path inside the payload, e.g. "recipient.email"
    policy: PiiPolicyName
    pattern: MaskPattern = "generic"


@dataclass(frozen=True)
class Family:
    """One silver table: every subject named ``<family>.<action>`` lands in it."""

    name: str
    silver_table: str
    key_columns: tuple[str, ...]
    cluster_by: tuple[str, ...]
    partition_field: str = "event_time"
    # Columns rows are fetched by (the API's point reads). BigQuery prunes on cluster_by; DuckDB,
    # which has no clustering, indexes each of these instead of scanning the table per read.
    lookup_by: tuple[str, ...] = ()
    # column -> payload fields to take it from, first present wins (default: the column's own name)
    key_sources: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def sources_of(self, column: str) -> tuple[str, ...]:
        return dict(self.key_sources).get(column, (column,))


@dataclass(frozen=True)
class SubjectSpec:
    name: str  # "shipment.created"
    family: str
    versions: tuple[int, ...]
    dedupe_ttl_hours: int
    pii: tuple[PiiRule, ...] = ()

    @property
    def latest_version(self) -> int:
        return self.versions[-1]
