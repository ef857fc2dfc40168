"""DeadLetter: a record the pipeline refused, with the reason and enough to replay it."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

# Stable reason codes: dashboards and replays key on them.
MALFORMED_JSON = "malformed_json"
INVALID_ENVELOPE = "invalid_envelope"
MISSING_ENVELOPE_FIELD = "missing_envelope_field"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
UNKNOWN_EVENT_VERSION = "unknown_event_version"
MISSING_REQUIRED_FIELD = "missing_required_field"
SCHEMA_VIOLATION = "schema_violation"


@dataclass(frozen=True)
class DeadLetter:
    stage: str
    reason_code: str
    reason: str
    raw: str
    source_system: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    event_version: int | None = None
    contract_version: int | None = None
    # What identifies the record when ``raw`` carries run-dependent parts (a normalized
    # envelope's ingest time); None: ``raw`` itself.
    identity: str | None = None

    @property
    def dlq_id(self) -> str:
        """Same record, same reason -> same id, so a replay never adds a second DLQ row."""
        record = self.raw if self.identity is None else self.identity
        return hashlib.sha256(f"{self.reason_code}\x00{record}".encode()).hexdigest()[:32]

    def to_row(self, *, failed_time: dt.datetime) -> dict[str, Any]:
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
        }


DEAD_LETTERS = "dead_letters"  # the tagged output every stage sends rejects to
