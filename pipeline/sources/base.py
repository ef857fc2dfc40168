"""What every source hands the pipeline, and the contract for sources that need acknowledging.

A streaming source (Kafka, Pub/Sub) is drained in micro-batches: ``poll`` a batch, run
it through the pipeline until bronze, silver and the DLQ have it durably, then
``commit`` (Kafka offsets / Pub/Sub acks). A crash before ``commit`` means the broker
redelivers the batch; dedupe and idempotent sinks make that harmless
(at-least-once delivery, effectively-once results).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class SourceRecord:
    value: bytes  # the message body exactly as received
    source_system: str  # "kafka:<topic>", "pubsub:<subscription>", "file"
    attributes: dict[str, str] = field(default_factory=dict)  # Pub/Sub attributes / Kafka headers
    publish_time: dt.datetime | None = None  # broker time: fallback event time when the body has none


class BatchSource(Protocol):
    """A source drained in acknowledged micro-batches."""

    def poll(self, *, max_records: int, timeout_s: float) -> list[SourceRecord]:
        """Up to ``max_records`` records, waiting at most ``timeout_s`` for the first."""
        ...

    def commit(self) -> None:
        """Acknowledge everything returned by ``poll`` so far (only after it is durably written)."""
        ...

    def close(self) -> None: ...
