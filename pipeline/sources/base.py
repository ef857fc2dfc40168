"""What every source hands the pipeline, and the contract for sources that need acknowledging.

A streaming source (Kafka, Pub/Sub) is drained in micro-batches: ``poll`` a batch, run
it through the pipeline until bronze, silver and the DLQ have it durably, then
``commit`` (Kafka offsets / Pub/Sub acks). A crash before ``commit`` means the broker
redelivers the batch; dedupe and idempotent sinks make that harmless
(at-least-once delivery, effectively-once results).

A source that cannot reach its broker raises :class:`~logistics.errors.SourceUnavailable`
(its message starts with where it reads from, e.g. "broker at 127.0.0.1:9092 unreachable"),
and every call into the broker is bounded in time; the drain decides how long to keep
retrying. An error retrying will not fix (a missing topic) is a
:class:`~logistics.errors.SourceError`. An empty ``poll`` means nothing arrived in time, not
that the topic is drained: only ``drained`` says that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from logistics.settings import Settings

BrokerName = Literal["kafka", "pubsub"]


@dataclass(frozen=True)
class SourceRecord:
    value: bytes  # the message body exactly as received
    source_system: str  # "kafka:<topic>", "pubsub:<subscription>", "file"
    attributes: dict[str, str] = field(default_factory=dict)  # Pub/Sub attributes / Kafka headers
    publish_time: dt.datetime | None = None  # broker time: fallback event time when the body has none


class BatchSource(Protocol):
    """A source drained in acknowledged micro-batches."""

    where: str  # "broker at 127.0.0.1:9092", "Pub/Sub emulator at 127.0.0.1:8085": how messages name it

    def poll(self, *, max_records: int, timeout_s: float) -> list[SourceRecord]:
        """Up to ``max_records`` records, waiting at most ``timeout_s`` for the first."""
        ...

    def commit(self) -> None:
        """Acknowledge everything returned by ``poll`` so far (only after it is durably written)."""
        ...

    def drained(self) -> bool:
        """Whether nothing is left to read, as the broker itself says (asked after an empty ``poll``):
        Kafka compares the group's offsets with each partition's end offset; Pub/Sub, which has no
        backlog query, takes an empty pull confirmed by the service answering right after."""
        ...

    def close(self) -> None:
        """Stop reading, committing nothing more; returns in bounded time even if the broker hangs."""
        ...


def open_batch_source(broker: BrokerName, *, settings: Settings) -> tuple[BatchSource, str]:
    """The configured broker's source, and a line saying where it reads from. The caller closes it."""
    if broker == "kafka":
        from pipeline.sources.kafka import KafkaBatchSource

        where = f"kafka {settings.kafka.bootstrap_servers} topics {', '.join(settings.kafka.topics)}"
        return KafkaBatchSource(kafka=settings.kafka), where
    from pipeline.sources.pubsub import PubSubBatchSource, subscriptions_from_settings

    subscriptions = subscriptions_from_settings(settings.pubsub.topics, suffix=settings.pubsub.subscription_suffix)
    where = f"pubsub {settings.gcp.project_id} subscriptions {', '.join(subscriptions)}"
    return PubSubBatchSource(project=settings.gcp.project_id, subscriptions=subscriptions), where
