"""The envelope's fields under every name producers use for them, read before any parsing.

Normalize maps them to the common envelope; the router picks a record's topic from them (before
any pipeline sees the record), so they sit with the sources, below the transforms.
"""

from __future__ import annotations

from typing import Any

# Source key -> envelope key. First match wins, so the canonical name is listed first.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "event_id": ("event_id", "eventId", "id"),
    "event_type": ("event_type", "eventType", "type"),
    "event_version": ("event_version", "eventVersion", "schema_version", "version"),
    "event_time": ("event_time", "eventTime", "timestamp", "occurred_at"),
    "ingest_time": ("ingest_time", "ingestTime"),
    "source_system": ("source_system", "sourceSystem", "source"),
    "trace_id": ("trace_id", "traceId"),
    "payload": ("payload", "data", "body"),
    # Not a producer's field: the PII stage's sealed precise values, on an envelope that comes back
    # from bronze or the DLQ. Carried through; the PII stage keeps only tokens that open with the key.
    "pii_sealed": ("pii_sealed",),
}


def first_present(record: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The value of the first of ``names`` that ``record`` holds and is not null (a plain loop: hot path)."""
    for name in names:
        value = record.get(name)
        if value is not None:
            return value
    return None
