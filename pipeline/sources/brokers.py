"""Open the configured broker's batch source (Kafka or Pub/Sub) by name.

Its own module so that :mod:`pipeline.sources.base` (what every source shares) imports no source:
``kafka`` and ``pubsub`` build on ``base``, and this builds on all three.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.sources.base import BatchSource, BrokerName

if TYPE_CHECKING:
    from logistics.settings import Settings


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
