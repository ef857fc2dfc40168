"""normalize: raw bytes from any source -> the common envelope (or a DeadLetter).

Producers differ: legacy ones send camelCase keys, epoch times, or "v1" versions.
Those differences are declared in :data:`FIELD_ALIASES`, not branched on.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson

from pipeline.dead_letter import (
    INVALID_ENVELOPE,
    MALFORMED_JSON,
    MISSING_ENVELOPE_FIELD,
    DeadLetter,
)
from pipeline.sources.base import SourceRecord

Envelope = dict[str, Any]

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
_REQUIRED = ("event_type", "event_version", "event_time", "payload")
# Derived ids are name-based UUIDs: a producer retry of the same event gets the same id.
_EVENT_ID_NAMESPACE = uuid.UUID("6f1c1c4e-3d0a-4c55-9a54-6d3b0f1f8a10")


def normalize(
    raw: bytes | str,
    *,
    source_system: str,
    ingest_time: dt.datetime,
    attributes: dict[str, str] | None = None,
    publish_time: dt.datetime | None = None,
) -> Envelope | DeadLetter:
    """One raw record -> envelope. Message attributes fill envelope fields the body lacks,
    and the broker's publish time stands in for a missing event time."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return DeadLetter("normalize", MALFORMED_JSON, f"not valid JSON: {exc}", text, source_system)
    if not isinstance(record, dict):
        return DeadLetter(
            "normalize", INVALID_ENVELOPE, f"expected a JSON object, got {type(record).__name__}", text, source_system
        )

    found = _envelope_fields(record)
    for key, value in (attributes or {}).items():
        if key in found and found[key] is None:
            found[key] = value
    if found["event_time"] is None and publish_time is not None:
        found["event_time"] = publish_time.isoformat()
    source = found["source_system"] or source_system
    missing = [key for key in _REQUIRED if found[key] is None]
    if missing:
        return DeadLetter(
            "normalize",
            MISSING_ENVELOPE_FIELD,
            f"envelope field(s) missing: {', '.join(missing)}",
            text,
            source,
            event_id=_str_or_none(found["event_id"]),
            event_type=_str_or_none(found["event_type"]),
        )
    try:
        version = parse_version(found["event_version"])
        event_time = parse_time(found["event_time"])
        ingested = parse_time(found["ingest_time"]) if found["ingest_time"] is not None else ingest_time
    except ValueError as exc:
        return DeadLetter(
            "normalize",
            INVALID_ENVELOPE,
            str(exc),
            text,
            source,
            event_id=_str_or_none(found["event_id"]),
            event_type=_str_or_none(found["event_type"]),
        )
    payload = found["payload"]
    if not isinstance(payload, dict):
        return DeadLetter("normalize", INVALID_ENVELOPE, "payload must be a JSON object", text, source)
    payload_text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    event_type = str(found["event_type"])
    event_id = found["event_id"] or str(
        uuid.uuid5(_EVENT_ID_NAMESPACE, f"{event_type}|{version}|{event_time.isoformat()}|{payload_text}")
    )
    return {
        "event_id": str(event_id),
        "event_type": event_type,
        "event_version": version,
        "event_time": event_time,
        "ingest_time": ingested,
        "source_system": source,
        "trace_id": _str_or_none(found["trace_id"]),
        "payload": payload_text,
        "pii_sealed": found["pii_sealed"] if isinstance(found["pii_sealed"], str) else None,
    }


def parse_version(value: Any) -> int:
    """``2``, ``"2"`` and ``"v2"`` all mean version 2."""
    text = str(value).strip().lower().removeprefix("v")
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise ValueError(f"event_version {value!r} is not a version number like 2 or 'v2'")
    return int(text)


def parse_time(value: Any) -> dt.datetime:
    """ISO-8601 (``Z`` or offset; naive means UTC) or epoch seconds/milliseconds/microseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if abs(seconds) >= 1e14:  # microseconds
            seconds /= 1e6
        elif abs(seconds) >= 1e11:  # milliseconds (1e11 s would be the year 5138)
            seconds /= 1e3
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):  # out of range, inf
            raise ValueError(f"time {value!r} is out of range") from None
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"time {value!r} is not ISO-8601 or epoch") from None
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    raise ValueError(f"time {value!r} is not ISO-8601 or epoch")


def first_present(record: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The value of the first of ``names`` that ``record`` holds and is not null (a plain loop: hot path)."""
    for name in names:
        value = record.get(name)
        if value is not None:
            return value
    return None


def _envelope_fields(record: dict[str, Any]) -> dict[str, Any]:
    """Envelope key -> the first non-null alias value."""
    return {key: first_present(record, aliases) for key, aliases in _ALIAS_ITEMS}


_ALIAS_ITEMS = tuple(FIELD_ALIASES.items())


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def envelope_json(envelope: Envelope) -> str:
    """The envelope as one JSON line (times ISO-8601 UTC, payload as an object)."""
    return orjson.dumps({**envelope, "payload": orjson.loads(envelope["payload"])}, option=orjson.OPT_UTC_Z).decode()


def normalize_record(
    record: bytes | str | SourceRecord, *, source_system: str, ingest_time: dt.datetime
) -> Envelope | DeadLetter:
    """:func:`normalize` for what a source yields: a raw line, or a SourceRecord with its attributes."""
    if isinstance(record, SourceRecord):
        return normalize(
            record.value,
            source_system=record.source_system,
            # The broker's publish time is when the event entered the platform: ingest time
            # (so ingest-to-silver latency counts the time spent waiting in the broker too).
            ingest_time=record.publish_time or ingest_time,
            attributes=record.attributes,
            publish_time=record.publish_time,
        )
    return normalize(record, source_system=source_system, ingest_time=ingest_time)
