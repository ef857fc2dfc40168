"""DeadLetter: a record the pipeline refused, with the reason and what a replay needs.

A DeadLetter is born in the clear (``received``: the record exactly as the source handed it
over) and becomes a DLQ row only after :func:`pipeline.transforms.pii.protect_dead_letter`
has sealed ``received`` under the PII key and protected ``raw`` and ``reason``: a row never
holds a clear personal value, and a key holder can still replay the exact original.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from contracts.generated.catalog import SUBJECTS
from logistics.errors import LogisticsError
from pipeline.sources.base import SourceRecord
from pipeline.sources.landing import to_line

# Stable reason codes: dashboards and replays key on them.
MALFORMED_JSON = "malformed_json"
INVALID_ENVELOPE = "invalid_envelope"
MISSING_ENVELOPE_FIELD = "missing_envelope_field"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
UNKNOWN_EVENT_VERSION = "unknown_event_version"
MISSING_REQUIRED_FIELD = "missing_required_field"
SCHEMA_VIOLATION = "schema_violation"


class UnprotectedDeadLetterError(LogisticsError, ValueError):
    """A DeadLetter still holding its clear original was about to be stored."""


@dataclass(frozen=True)
class DeadLetter:
    stage: str
    reason_code: str
    reason: str
    raw: str  # the record's text as received (invalid UTF-8 shown as U+FFFD); PII-protected once sealed
    source_system: str | None = None
    # Envelope fields as the producer claimed them, whenever they could be read.
    event_id: str | None = None
    event_type: str | None = None
    event_version: int | None = None
    contract_version: int | None = None
    trace_id: str | None = None
    # The record exactly as received (body bytes, broker attributes, publish time): what a replay
    # re-validates. Clear, so it never reaches a row: protection seals it into ``sealed``.
    received: SourceRecord | None = None
    sealed: str | None = None  # ``received`` as a landing line, sealed under the PII key
    # The record but its publish time, sealed: what names it whichever delivery brought it (a
    # broker's redelivery, a bridge's republish after a crash: a new publish time, the same record).
    identity: str | None = None

    @property
    def dlq_id(self) -> str:
        """Same record, same reason -> same id, so a rerun, a redelivery or a replay never adds a
        second DLQ row.

        Taken from the sealed record (deterministic AES-SIV), not the clear one: the id is a keyed
        digest, so nobody without the key can confirm a guess of the record against it.
        """
        if self.identity is None:
            raise UnprotectedDeadLetterError(
                "a DeadLetter gets its id once pii.protect_dead_letter has sealed what it received"
            )
        return hashlib.sha256(f"{self.reason_code}\x00{self.identity}".encode()).hexdigest()[:32]

    def with_received(self, record: SourceRecord) -> DeadLetter:
        """This DeadLetter about ``record``, as received (its text shown in ``raw``)."""
        return dataclasses.replace(self, received=record, raw=record_text(record.value))

    def to_row(self, *, failed_time: dt.datetime) -> dict[str, Any]:
        if self.received is not None:
            raise UnprotectedDeadLetterError(
                "a DeadLetter becomes a DLQ row only after pii.protect_dead_letter (it still holds the clear record)"
            )
        return {
            "dlq_id": self.dlq_id,
            "failed_time": failed_time,
            "stage": self.stage,
            "reason_code": self.reason_code,
            "reason": self.reason,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "event_version": self.event_version,
            "contract_version": self.contract_version,
            "source_system": self.source_system,
            "raw": self.raw,
            "attempt_count": 1,
            "last_attempt_time": failed_time,
            "status": "open",
            "trace_id": self.trace_id,
            "original": self.sealed,
        }


def record_text(value: bytes | str) -> str:
    """A record body as text for people to read (bytes that are not UTF-8 become U+FFFD)."""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def received_line(record: SourceRecord) -> bytes:
    """``record`` as one landing line with its attributes sorted: the same record, the same bytes
    (so the same sealed original and ``dlq_id`` on every delivery of it)."""
    return to_line(dataclasses.replace(record, attributes=dict(sorted(record.attributes.items()))))


def contract_version_held_to(event_type: str | None, version: int | None) -> int | None:
    """The registry version a record is judged against: the one it claims when the registry has
    it, else the subject's latest (a version the registry lacks); None for an unknown subject or
    when no version could be read."""
    spec = SUBJECTS.get(event_type) if event_type is not None else None
    if spec is None or version is None:
        return None
    return version if version in spec.versions else spec.latest_version


DEAD_LETTERS = "dead_letters"  # the tagged output every stage sends rejects to
