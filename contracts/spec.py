"""The small runtime description of the registry that generated code is built from.

:mod:`contracts.registry` reads the authored files into these types; codegen writes
them out as ``contracts/generated/catalog.py`` so running code never parses YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PiiPolicyName = Literal["mask", "tokenize", "redact", "generalize"]
MaskPattern = Literal["email", "phone", "name", "generic"]
# What a generalize rule coarsens: a GeoPoint (lat/lon to ~1 km) or a postcode (to its district).
GeneralizePattern = Literal["coordinates", "postcode"]
PiiPattern = MaskPattern | GeneralizePattern

MASK_PATTERNS: tuple[MaskPattern, ...] = ("email", "phone", "name", "generic")
GENERALIZE_PATTERNS: tuple[GeneralizePattern, ...] = ("coordinates", "postcode")

# A generalize rule keeps the precise value too, sealed with the PII key, in this envelope field
# and silver column next to the generalized payload: {payload path: token}, as JSON text. Only the
# key reverses it (the API does, for callers with read:pii). See docs/architecture.md, "PII".
SEALED_COLUMN = "pii_sealed"
SEALED_DESCRIPTION = (
    "Precise values of the payload's generalized personal fields, sealed with the PII key: "
    "JSON {payload path: token}. Readable only under the policy tag, reversible only with the key."
)
# The BigQuery policy tag on every column holding sealed precise values (column-level security).
SEALED_POLICY_TAG = "precise_personal_data"
SEALED_POLICY_TAG_DESCRIPTION = (
    "Precise personal data the contracts generalize (door GPS, driver positions, full postcodes), "
    "sealed with the PII key. Fine-grained readers: the analytics API, which reveals it to read:pii callers."
)


@dataclass(frozen=True)
class PiiRule:
    path: str  # dotted path inside the payload, e.g. "recipient.email"
    policy: PiiPolicyName
    pattern: PiiPattern = "generic"


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
