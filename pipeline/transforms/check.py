"""check: normalize, then validate — one raw record in, a valid envelope or a DeadLetter out.

:func:`check` is the per-record work every graph shares: :class:`~pipeline.transforms.dofns.CheckDoFn`
applies it per element (the unbounded and bounded pipelines), the local runner's batch DoFn per batch.

Most records are valid, so check takes the fast path first (normalize_fast: the envelope fields
decoded, typed, by msgspec; conforms: the payload, as parsed, checked by its contract's msgspec Struct). A record
that path does not accept goes through :func:`check_precisely` (normalize, then the JSON Schema
validator), which accepts it or words its reject: a DLQ reason is the same whichever path a
record took first, by construction.
"""

from __future__ import annotations

import datetime as dt

from pipeline.dead_letter import DeadLetter
from pipeline.sources.base import SourceRecord
from pipeline.transforms.normalize import Envelope, as_received, normalize_fast, normalize_record
from pipeline.transforms.validate import conforms, validate


def check(record: bytes | str | SourceRecord, *, source_system: str, ingest_time: dt.datetime) -> Envelope | DeadLetter:
    """normalize, then validate: a valid envelope, or the first failing stage's DeadLetter
    carrying the record exactly as received (what a DLQ replay re-validates)."""
    envelope = check_fast(record, source_system=source_system, ingest_time=ingest_time)
    if envelope is not None:
        return envelope
    return check_precisely(record, source_system=source_system, ingest_time=ingest_time)


def check_fast(record: bytes | str | SourceRecord, *, source_system: str, ingest_time: dt.datetime) -> Envelope | None:
    """check's fast path: the envelope of a record it finds valid; None leaves the record to
    :func:`check_precisely`."""
    if isinstance(record, SourceRecord):
        normalized = normalize_fast(
            record.value,
            source_system=record.source_system,
            ingest_time=record.publish_time or ingest_time,  # as normalize_record has it
            attributes=record.attributes,
            publish_time=record.publish_time,
        )
    else:
        normalized = normalize_fast(record, source_system=source_system, ingest_time=ingest_time)
    if normalized is None:
        return None
    envelope, payload = normalized
    return envelope if conforms(envelope, payload=payload) else None


def check_precisely(
    record: bytes | str | SourceRecord, *, source_system: str, ingest_time: dt.datetime
) -> Envelope | DeadLetter:
    """:func:`check` without the fast path: every record judged field by field, and the JSON
    Schema validator's verdict, worded, on every payload."""
    result = normalize_record(record, source_system=source_system, ingest_time=ingest_time)
    if isinstance(result, DeadLetter):
        return result
    checked = validate(result)
    if isinstance(checked, DeadLetter):
        return checked.with_received(as_received(record, source_system=source_system))
    return checked
