"""`logistics generate --to kafka --rate N`: the simulation streamed to a real broker (Tansu) at the
target rate, every record once, byte for byte what the same seed writes to a file."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from typer.testing import CliRunner

from contracts.generated.catalog import SUBJECTS
from logistics.cli.main import app
from logistics.settings import get_settings
from pipeline.sources.simulator import SimulationConfig, simulate

pytestmark = pytest.mark.integration


@pytest.fixture
def kafka_env(kafka_broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    topic = f"sim-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("LOGISTICS_STORAGE__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOGISTICS_KAFKA__BOOTSTRAP_SERVERS", kafka_broker.bootstrap_servers)
    monkeypatch.setenv("LOGISTICS_KAFKA__TOPICS", f'["{topic}"]')
    get_settings.cache_clear()
    yield topic
    get_settings.cache_clear()


def read_topic(bootstrap_servers: str, topic: str, *, expected: int) -> list[tuple[bytes, int]]:
    """(value, producer timestamp ms) of every message, read outside any group."""
    reader = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": f"reader-{uuid.uuid4().hex[:8]}"})
    partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
    reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    messages: list[tuple[bytes, int]] = []
    deadline = time.monotonic() + 30
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for message in reader.consume(num_messages=1000, timeout=0.5):
                assert message.error() is None, message.error()
                messages.append((message.value(), message.timestamp()[1]))
    finally:
        reader.close()
    return messages


def test_generate_publishes_to_kafka_paced_to_the_target_rate(kafka_env: str, kafka_broker, tmp_path: Path) -> None:
    rate = 400
    truth_path = tmp_path / "truth.json"
    args = ["generate", "--to", "kafka", "--rate", str(rate), "--shipments", "60", "--seed", "5"]
    result = CliRunner().invoke(app, [*args, "--truth", str(truth_path)])
    assert result.exit_code == 0, result.output
    truth = json.loads(truth_path.read_text())
    records = truth["records"]
    assert f"published {records} message(s) to kafka topic {kafka_env}" in result.output

    messages = read_topic(kafka_broker.bootstrap_servers, kafka_env, expected=records)
    file_lines = list(simulate(SimulationConfig(shipments=60, seed=5)))
    assert Counter(value.decode() for value, _ in messages) == Counter(file_lines)

    # Paced: never faster than asked (a loaded machine only slows it down, so this cannot flake).
    # Whether it keeps up with the rate is a figure of `make bench-generate`.
    stamps = sorted(ts for _, ts in messages)
    seconds = (stamps[-1] - stamps[0]) / 1000
    target = (records - 1) / rate
    assert seconds >= 0.9 * target, f"{records} messages over {seconds:.2f} s, faster than {rate}/s ({target:.2f} s)"


def test_generate_publishes_to_pubsub_by_family_topic(
    pubsub_emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each event goes to its family's topic (camelCase ones too, read through the legacy aliases);
    lines that name no registered type (malformed, unknown) go to the first event topic."""
    from google.cloud.pubsub_v1 import SubscriberClient

    run = uuid.uuid4().hex[:6]
    topics = {family: f"{family}-{run}" for family in ("shipment", "facility", "driver", "delivery")}
    monkeypatch.setenv("LOGISTICS_STORAGE__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOGISTICS_GCP__PROJECT_ID", pubsub_emulator.project)
    monkeypatch.setenv("LOGISTICS_PUBSUB__TOPICS", json.dumps(topics))
    get_settings.cache_clear()
    truth_path = tmp_path / "truth.json"
    try:
        args = [
            "generate",
            "--to",
            "pubsub",
            "--create",
            "--shipments",
            "25",
            "--seed",
            "2",
            "--truth",
            str(truth_path),
        ]
        result = CliRunner().invoke(app, [*args, "--malformed-rate", "0.02", "--camel-case-rate", "0.2"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    truth = json.loads(truth_path.read_text())

    subscriber = SubscriberClient()
    received: dict[str, list[tuple[bytes, dict[str, str]]]] = {}
    try:
        for family, topic in topics.items():
            path = subscriber.subscription_path(pubsub_emulator.project, f"{topic}-dataflow")
            got = received.setdefault(family, [])
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                response = subscriber.pull(request={"subscription": path, "max_messages": 1000}, timeout=5)
                if not response.received_messages:
                    break
                got.extend((m.message.data, dict(m.message.attributes)) for m in response.received_messages)
                subscriber.acknowledge(
                    request={"subscription": path, "ack_ids": [m.ack_id for m in response.received_messages]}
                )
    finally:
        subscriber.close()

    assert sum(len(v) for v in received.values()) == truth["records"]
    for family, messages in received.items():
        typed = [attrs["event_type"] for _, attrs in messages if "event_type" in attrs]
        registered = [t for t in typed if t.split(".")[0] == family]
        assert registered, family
        if family != "shipment":  # the fallback topic also takes the lines of no registered type
            assert len(registered) == len(messages), family
    camel = [attrs for msgs in received.values() for data, attrs in msgs if data.startswith(b'{"eventId"')]
    complete = [attrs for attrs in camel if attrs]  # truncated camelCase writes carry no attributes
    assert complete and all(attrs["event_type"] in SUBJECTS for attrs in complete)
