"""The DLQ and alerts topics, on the official Pub/Sub emulator: every DLQ row and alert of a run, once."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
from google.cloud import pubsub_v1

from logistics.settings import PipelineSettings, PubSubSettings, Settings, StorageSettings
from pipeline.run import run_pipeline
from pipeline.sources.pubsub import ensure_topic_and_subscription
from pipeline.sources.simulator import Faults, SimulationConfig, simulate, write_jsonl


def _pull_all(subscription: str) -> list[pubsub_v1.types.PubsubMessage]:
    subscriber = pubsub_v1.SubscriberClient()
    messages = []
    try:
        while True:
            response = subscriber.pull(request={"subscription": subscription, "max_messages": 500}, timeout=10)
            if not response.received_messages:
                return messages
            messages += [m.message for m in response.received_messages]
            subscriber.acknowledge(
                request={"subscription": subscription, "ack_ids": [m.ack_id for m in response.received_messages]}
            )
    finally:
        subscriber.close()


def test_a_run_publishes_its_dead_letters_and_alerts(pubsub_emulator, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    topics = {"dlq": f"dlq-{suffix}", "alerts": f"alerts-{suffix}"}
    subscriptions = {}
    for key, topic in topics.items():
        _, subscriptions[key] = ensure_topic_and_subscription(
            project=pubsub_emulator.project, topic=topic, subscription=f"{topic}-check"
        )
    settings = Settings(
        storage=StorageSettings(data_dir=tmp_path),
        pipeline=PipelineSettings(publish_to_topics=True),
        pubsub=PubSubSettings(topics=topics),
    )
    faults = Faults(malformed=0.03, unknown_type=0.02)
    config = SimulationConfig(shipments=60, seed=4, faults=faults, exception_rate=0.1)
    truth = write_jsonl(simulate(config), tmp_path / "events.jsonl")

    ledger = run_pipeline(settings=settings, input_pattern=str(tmp_path / "events.jsonl"))

    dead = _pull_all(subscriptions["dlq"])
    alerts = _pull_all(subscriptions["alerts"])
    assert ledger.dlq == truth.expected()["dlq"] > 0
    assert len(dead) == ledger.dlq
    assert {m.attributes["reason_code"] for m in dead} == {"malformed_json", "unknown_event_type"}
    assert len({m.attributes["dlq_id"] for m in dead}) == ledger.dlq
    assert ledger.alerts == truth.expected()["alerts"] > 0
    assert len(alerts) == ledger.alerts
    assert {m.attributes["event_type"] for m in alerts} <= {"shipment.exception", "delivery.failed"}
    assert all(orjson.loads(m.data)["alert_id"] == m.attributes["alert_id"] for m in alerts)
