"""The Kafka bridge: Kafka topics into the pipeline's Pub/Sub topics, committed after Pub/Sub has them.

Kafka reaches the one unbounded pipeline through Pub/Sub rather than through Beam's
``ReadFromKafka``, which in the Python SDK is a cross-language (Java) transform that downloads
its expansion service at run time: neither this machine nor the tests could run it, and a Kafka
path only the cloud can exercise would be untested (docs/architecture.md gives the trade-off).

Each poll of the consumer group is published, message by message, to the event family's topic
(:mod:`pipeline.sources.routing`) with the Kafka headers as attributes, the source named in the
``source_system`` attribute (``kafka:<topic>``) and the record's Kafka timestamp as the fallback
``event_time``. Offsets are committed only once Pub/Sub has acknowledged every publish of the
batch: a bridge killed at any point re-reads from its last commit and republishes, so nothing
is lost, and the pipeline's dedupe (state, then the silver load's key rule) drops the copies.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from logistics.settings import Settings
from pipeline.sources.base import BatchSource, SourceRecord
from pipeline.sources.routing import SOURCE_ATTRIBUTE, route

log = logging.getLogger(__name__)

_PUBLISH_TIMEOUT_S = 60


@dataclass
class BridgeStats:
    forwarded: Counter[str] = field(default_factory=Counter)  # Pub/Sub topic -> messages
    batches: int = 0

    @property
    def total(self) -> int:
        return sum(self.forwarded.values())


def message_of(record: SourceRecord, *, event_topics: dict[str, str]) -> tuple[str, bytes, dict[str, str]]:
    """(topic, body, attributes) of one Kafka record on Pub/Sub."""
    topic, routed = route(record.value, event_topics=event_topics)
    attributes = {**record.attributes, **routed, SOURCE_ATTRIBUTE: record.source_system}
    if record.publish_time is not None:
        attributes.setdefault("event_time", record.publish_time.isoformat())
    return topic, record.value, attributes


def forward_batch(
    records: list[SourceRecord], *, publisher: Any, project: str, event_topics: dict[str, str]
) -> Counter[str]:
    """Publish a batch and wait until Pub/Sub has acknowledged every message of it."""
    futures = []
    sent: Counter[str] = Counter()
    for record in records:
        topic, body, attributes = message_of(record, event_topics=event_topics)
        futures.append(publisher.publish(publisher.topic_path(project, topic), body, **attributes))
        sent[topic] += 1
    for future in futures:
        future.result(timeout=_PUBLISH_TIMEOUT_S)
    return sent


def run_bridge(
    source: BatchSource,
    *,
    settings: Settings,
    stop: threading.Event,
    max_records: int = 1_000,
    poll_timeout_s: float = 0.5,
    publisher: Any = None,
) -> BridgeStats:
    """Forward until ``stop`` is set; each batch is committed to Kafka only after Pub/Sub acknowledged it."""
    from google.cloud.pubsub_v1 import PublisherClient

    client = publisher or PublisherClient()
    event_topics = settings.pubsub.event_topics()
    stats = BridgeStats()
    while not stop.is_set():
        records = source.poll(max_records=max_records, timeout_s=poll_timeout_s)
        if not records:
            continue
        stats.forwarded += forward_batch(
            records, publisher=client, project=settings.gcp.project_id, event_topics=event_topics
        )
        source.commit()  # only now: Pub/Sub holds every record of the batch
        stats.batches += 1
        log.info("bridged %d record(s) from Kafka to Pub/Sub (batch %d)", len(records), stats.batches)
    return stats
