"""BigQuery table schemas (JSON) for bronze backup, silver tables and the DLQ."""

from __future__ import annotations

from typing import Any

from codegen._source import GENERATED_BY
from contracts.registry import AvroSchema, Registry, RegistryError, named_types
from contracts.spec import (
    SEALED_COLUMN,
    SEALED_DESCRIPTION,
    SEALED_POLICY_TAG,
    SEALED_POLICY_TAG_DESCRIPTION,
    Family,
)

BigQueryTable = dict[str, Any]

_AVRO_TO_BQ = {
    "string": "STRING",
    "int": "INT64",
    "long": "INT64",
    "float": "FLOAT64",
    "double": "FLOAT64",
    "boolean": "BOOL",
    "bytes": "BYTES",
}
_LOGICAL_TO_BQ = {"timestamp-micros": "TIMESTAMP", "timestamp-millis": "TIMESTAMP", "date": "DATE"}


def _field(name: str, kind: str, mode: str, description: str) -> dict[str, Any]:
    return {"name": name, "type": kind, "mode": mode, "description": description}


def _sealed_field() -> dict[str, Any]:
    """``pii_sealed``, under the policy tag that restricts who may read it (column-level security).

    ``policyTags.names`` holds the tag's name as :func:`policy_tags` lists it; Terraform puts the
    Data Catalog resource name in its place (``infra/terraform/modules/bigquery/tables.tf``).
    """
    return {
        **_field(SEALED_COLUMN, "STRING", "NULLABLE", SEALED_DESCRIPTION),
        "policyTags": {"names": [SEALED_POLICY_TAG]},
    }


def policy_tags() -> dict[str, str]:
    """The policy tags the generated schemas use, with their descriptions: Terraform creates one each."""
    return {SEALED_POLICY_TAG: SEALED_POLICY_TAG_DESCRIPTION}


def _table(description: str, fields: list[dict[str, Any]], partition: str, cluster: list[str]) -> BigQueryTable:
    return {
        "description": f"{description} {GENERATED_BY}",
        "fields": fields,
        "timePartitioning": {"type": "DAY", "field": partition},
        "clustering": cluster,
    }


def _envelope_fields(registry: Registry) -> list[dict[str, Any]]:
    fields = []
    for fld in registry.envelope.schema["fields"]:
        kind = fld["type"]
        nullable = isinstance(kind, list)
        if nullable:
            kind = next(branch for branch in kind if branch != "null")
        bq = _LOGICAL_TO_BQ.get(kind.get("logicalType", "")) if isinstance(kind, dict) else _AVRO_TO_BQ[kind]
        if bq is None:
            raise RegistryError(f"envelope field {fld['name']!r} has no BigQuery mapping")
        fields.append(_field(fld["name"], bq, "NULLABLE" if nullable else "REQUIRED", fld.get("doc", "")))
    return fields


def silver_table(registry: Registry, family: Family) -> BigQueryTable:
    """Envelope columns, then key columns lifted from the payload, then the payload as JSON."""
    fields = [f for f in _envelope_fields(registry) if f["name"] != "payload"]
    for column in family.key_columns:
        fields.append(
            _field(column, _key_type(registry, family, column), "NULLABLE", f"payload.{column}, when present")
        )
    fields += [
        _field("facility_name", "STRING", "NULLABLE", "Enriched from the facility dimension, when known."),
        _field("facility_region", "STRING", "NULLABLE", "Enriched from the facility dimension, when known."),
        _field("carrier_name", "STRING", "NULLABLE", "Enriched from the carrier dimension, when known."),
        _sealed_field(),
        _field("payload", "JSON", "REQUIRED", "The validated, PII-protected payload."),
    ]
    return _table(
        f"Silver: validated, deduplicated {family.name} events.",
        fields,
        family.partition_field,
        list(family.cluster_by),
    )


def dlq_table() -> BigQueryTable:
    # New columns go last: BigQuery adds a NULLABLE column to a live table only at the end.
    fields = [
        _field(
            "dlq_id",
            "STRING",
            "REQUIRED",
            "Stable keyed hash of (reason code, sealed original): a rerun or replay does not duplicate rows.",
        ),
        _field("failed_time", "TIMESTAMP", "REQUIRED", "When the pipeline rejected the record."),
        _field("stage", "STRING", "REQUIRED", "Pipeline stage that rejected it: normalize, validate, ..."),
        _field("reason_code", "STRING", "REQUIRED", "Machine-readable reason, e.g. schema_violation."),
        _field(
            "reason",
            "STRING",
            "REQUIRED",
            "Plain words naming the field, what its contract expects and what kind of value came (never the value).",
        ),
        _field("event_id", "STRING", "NULLABLE", "As the record claimed it, when it could be read."),
        _field("event_type", "STRING", "NULLABLE", "As the record claimed it, when it could be read."),
        _field("event_version", "INT64", "NULLABLE", "Version the producer claimed, when it reads as a number."),
        _field(
            "contract_version",
            "INT64",
            "NULLABLE",
            "Registry version the record was held to: the claimed one when the registry has it, else the "
            "subject's latest; NULL for an unknown subject or no readable version.",
        ),
        _field("source_system", "STRING", "NULLABLE", "As the record claimed it, else the source it came from."),
        _field(
            "raw",
            "STRING",
            "REQUIRED",
            "The record's text as received, personal data protected as in silver: for people to read, not replay.",
        ),
        _field("attempt_count", "INT64", "REQUIRED", "Times this record was processed (1 + replays)."),
        _field("last_attempt_time", "TIMESTAMP", "REQUIRED", "When it was last processed."),
        _field("status", "STRING", "REQUIRED", "open | replayed | permanent_failure"),
        _field("trace_id", "STRING", "NULLABLE", "As the record claimed it, when it could be read."),
        _field(
            "original",
            "STRING",
            "NULLABLE",
            "The record exactly as received (bytes, broker attributes, publish time), sealed with AES-SIV under "
            "the PII key: only a key holder can open it; logistics dlq replay re-validates it. NULL only on rows "
            "written before this column existed.",
        ),
    ]
    return _table(
        "Dead letters: every rejected record with its reason.", fields, "failed_time", ["reason_code", "event_type"]
    )


def event_counts_table() -> BigQueryTable:
    fields = [
        _field("window_start", "TIMESTAMP", "REQUIRED", "Start of the 5-minute event-time window."),
        _field("window_end", "TIMESTAMP", "REQUIRED", ""),
        _field("event_type", "STRING", "REQUIRED", ""),
        _field("facility_id", "STRING", "NULLABLE", "The family's facility key column, when it has one."),
        _field("event_count", "INT64", "REQUIRED", "Events in the window (the stream: so far; panes accumulate)."),
        _field("pane_index", "INT64", "REQUIRED", "The stream's firing of the window: 0, 1, 2, ...; 0 for a recount."),
        _field(
            "pane_timing",
            "STRING",
            "REQUIRED",
            "EARLY | ON_TIME | LATE (the stream's panes) | SILVER (recounted from silver by a bounded run)",
        ),
        _field("count_id", "STRING", "REQUIRED", "Stable hash of (window, event type, facility): one row each."),
        _field("computed_at", "TIMESTAMP", "REQUIRED", "When this count was made: the latest one wins."),
    ]
    return _table(
        "Near-real-time event counts per type and facility in 5-minute windows: one row per window, "
        "event type and facility, upserted by the stream's panes and by bounded runs' recounts from silver.",
        fields,
        "window_start",
        ["event_type", "facility_id"],
    )


def pipeline_ledger_table() -> BigQueryTable:
    count = "INT64"
    fields = [
        _field("run_id", "STRING", "REQUIRED", "The bounded run (a file run, a replay, a micro-batch of a drain)."),
        _field("committed_at", "TIMESTAMP", "REQUIRED", "When the run's silver and DLQ rows were committed."),
        _field("input", "STRING", "NULLABLE", "What the run read: a file pattern or a landing file."),
        _field("received", count, "REQUIRED", "Records the run read, faults included."),
        _field("duplicates", count, "REQUIRED", "Extra copies of an event_id within its TTL, dropped by dedupe."),
        _field("silver_inserted", count, "REQUIRED", "Rows the run added to silver."),
        _field(
            "silver_already_present", count, "REQUIRED", "Unique in the run, already in silver (a replay or a retry)."
        ),
        _field("dlq_inserted", count, "REQUIRED", "Dead letters the run added."),
        _field("dlq_already_present", count, "REQUIRED", "Dead letters already in the DLQ (a replay or a retry)."),
        _field("alerts", count, "REQUIRED", "Alert copies written beside silver (not a destination of their own)."),
        _field("silver_inserted_by_table", "STRING", "REQUIRED", "JSON object: silver table -> rows added."),
    ]
    return _table(
        "The conservation ledger of every committed bounded run, written in the transaction that loads its rows: "
        "received = silver_inserted + silver_already_present + dlq_inserted + dlq_already_present + duplicates.",
        fields,
        "committed_at",
        ["run_id"],
    )


def bronze_backup_table(registry: Registry) -> BigQueryTable:
    return _table(
        "Bronze backup: the envelope as archived in Avro.",
        [*_envelope_fields(registry), _sealed_field()],
        "ingest_time",
        ["event_type"],
    )


def _key_type(registry: Registry, family: Family, column: str) -> str:
    """One BigQuery type per key column, agreed by every subject version that has it."""
    found: set[str] = set()
    for version in registry.all_versions():
        if not version.subject.startswith(f"{family.name}."):
            continue
        for fld in version.schema["fields"]:
            if fld["name"] in family.sources_of(column):
                found.add(
                    _scalar_type(
                        fld["type"], named_types(version.schema), where=f"{version.subject} v{version.version}"
                    )
                )
    if len(found) != 1:
        raise RegistryError(
            f"family {family.name!r}: key column {column!r} must have one scalar type in all subjects, "
            f"found {sorted(found) or 'none'}"
        )
    return found.pop()


def _scalar_type(kind: AvroSchema, named: dict[str, AvroSchema], *, where: str) -> str:
    if isinstance(kind, list):
        branches = [b for b in kind if b != "null"]
        if len(branches) == 1:
            return _scalar_type(branches[0], named, where=where)
    elif isinstance(kind, str) and kind in _AVRO_TO_BQ:
        return _AVRO_TO_BQ[kind]
    elif isinstance(kind, dict) and (logical := _LOGICAL_TO_BQ.get(kind.get("logicalType", ""))):
        return logical
    raise RegistryError(f"{where}: key column type {kind!r} is not a scalar")
