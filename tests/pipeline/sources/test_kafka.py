"""The Kafka source against a real Kafka-protocol broker (Tansu), and its wire-format decoding.

The integration test is a kill-and-restart scenario: the pipeline crashes after
silver is loaded but before offsets are committed; a new consumer in the same group gets
the batch again, and silver still holds each event exactly once.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from logistics.errors import ConfigError
from logistics.settings import KafkaSettings, Settings
from logistics.warehouse import connect
from pipeline.dead_letter import MALFORMED_JSON
from pipeline.sources.base import SourceRecord
from pipeline.sources.kafka import KafkaBatchSource, consumer_config, decode_value, encode_wire_format
from pipeline.sources.simulator.spine import generate_events
from pipeline.streaming import drain
from pipeline.transforms.normalize import normalize

SILVER = ("clean.shipment_events", "clean.delivery_events", "clean.facility_events", "clean.driver_events")
# Tansu: a group join waits half the session timeout, so keep it short (docs/local-components.md).
TEST_CONSUMER = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def _envelope_for_avro(line: str) -> dict[str, Any]:
    """A generator JSON line as the Avro envelope record (payload as JSON text, times as datetimes)."""
    body = orjson.loads(line)
    event_time = dt.datetime.fromisoformat(body["event_time"].replace("Z", "+00:00"))
    return {
        **body,
        "event_time": event_time,
        "ingest_time": event_time + dt.timedelta(seconds=3),
        "payload": orjson.dumps(body["payload"]).decode(),
    }


def test_wire_format_avro_value_round_trips_to_the_same_envelope() -> None:
    line = generate_events(shipments=1, seed=3).lines[4]
    wire = encode_wire_format(_envelope_for_avro(line), schema_id=42)
    assert wire[0] == 0 and int.from_bytes(wire[1:5], "big") == 42

    now = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    from_avro = normalize(decode_value(wire), source_system="kafka:t", ingest_time=now)
    from_json = normalize(line.encode(), source_system="kafka:t", ingest_time=now)
    assert isinstance(from_avro, dict) and isinstance(from_json, dict)
    # Same event either way; only ingest_time differs (the Avro producer stamped its own).
    assert {k: v for k, v in from_avro.items() if k != "ingest_time"} == {
        k: v for k, v in from_json.items() if k != "ingest_time"
    }
    assert from_avro["ingest_time"] == from_avro["event_time"] + dt.timedelta(seconds=3)


def test_json_passes_through_and_a_corrupt_wire_value_reaches_the_dlq_intact() -> None:
    line = b'{"event_type": "shipment.created"}'
    assert decode_value(line) == line
    corrupt = b"\x00\x00\x00\x00\x01\xff\xff\xff"  # magic byte + schema id, then not an envelope
    assert decode_value(corrupt) == corrupt
    dead = normalize(corrupt, source_system="kafka:t", ingest_time=dt.datetime.now(dt.UTC))
    assert not isinstance(dead, dict) and dead.reason_code == MALFORMED_JSON


def test_sasl_ssl_takes_credentials_from_settings_and_refuses_to_run_without() -> None:
    secured = KafkaSettings(security_protocol="SASL_SSL", sasl_username="svc", sasl_password="s3cret")
    config = consumer_config(secured, group_id="g")
    assert config["security.protocol"] == "SASL_SSL"
    assert (config["sasl.mechanism"], config["sasl.username"], config["sasl.password"]) == ("PLAIN", "svc", "s3cret")
    assert config["enable.auto.commit"] is False
    with pytest.raises(ConfigError, match="LOGISTICS_KAFKA__SASL_USERNAME"):
        consumer_config(KafkaSettings(security_protocol="SASL_SSL"), group_id="g")


def _produce(bootstrap_servers: str, topic: str, messages: list[dict[str, Any]], *, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(timeout=10)
    producer = Producer({"bootstrap.servers": bootstrap_servers})
    for message in messages:
        producer.produce(topic, **message)
    assert producer.flush(10) == 0


class SimulatedCrash(RuntimeError):
    pass


class CrashBeforeCommit:
    """The process dies after the batch is loaded into silver, before offsets are committed."""

    def __init__(self, inner: KafkaBatchSource) -> None:
        self.inner = inner

    def poll(self, *, max_records: int, timeout_s: float) -> list[SourceRecord]:
        return self.inner.poll(max_records=max_records, timeout_s=timeout_s)

    def commit(self) -> None:
        raise SimulatedCrash("killed between the silver load and the offset commit")

    def close(self) -> None:
        self.inner.close()


def _silver_ids(settings: Settings) -> list[str]:
    with connect(settings, read_only=True) as wh:
        return [r["event_id"] for t in SILVER for r in wh.query(f"SELECT event_id FROM {t}")]


def _dlq(settings: Settings) -> list[dict[str, Any]]:
    with connect(settings, read_only=True) as wh:
        return wh.query("SELECT reason_code, source_system, raw FROM clean.dlq_events")


def test_crash_before_commit_redelivers_and_silver_stays_exactly_once(kafka_broker, settings: Settings) -> None:
    topic, group = f"events-{uuid.uuid4().hex[:8]}", f"pipeline-{uuid.uuid4().hex[:8]}"
    batch = generate_events(shipments=8, seed=11)
    # A legacy producer: no trace_id or event_time in the body; they come as a header and the
    # broker timestamp.
    legacy = orjson.loads(batch.lines[0])
    legacy |= {"event_id": str(uuid.uuid4()), "source_system": "wms"}
    del legacy["trace_id"], legacy["event_time"]
    legacy_time = dt.datetime(2024, 1, 15, 9, 30, tzinfo=dt.UTC)
    messages: list[dict[str, Any]] = []
    for i, line in enumerate(batch.lines):
        # Every 4th well-formed event arrives as Confluent wire-format Avro, the rest as JSON.
        wire = i % 4 == 0 and line.startswith("{") and line.endswith("}")
        value = encode_wire_format(_envelope_for_avro(line)) if wire else line.encode()
        messages.append({"value": value, "headers": [("producer", b"generator")]})
    messages.append(
        {
            "value": orjson.dumps(legacy),
            "headers": [("trace_id", b"trace-legacy")],
            "timestamp": int(legacy_time.timestamp() * 1000),
        }
    )
    _produce(kafka_broker.bootstrap_servers, topic, messages, partitions=2)
    produced, events = len(messages), batch.events + 1
    assert sum(1 for m in messages if m["value"][0] == 0) > 10

    kafka = settings.kafka.model_copy(update={"bootstrap_servers": kafka_broker.bootstrap_servers})

    def consumer() -> KafkaBatchSource:
        return KafkaBatchSource(kafka=kafka, topics=[topic], group_id=group, extra_config=TEST_CONSUMER)

    first = consumer()
    with pytest.raises(SimulatedCrash):
        drain(CrashBeforeCommit(first), settings=settings, max_records=5_000, timeout_s=10, idle_batches_to_stop=1)
    first.close()  # leaves the group; nothing was committed
    assert sorted(_silver_ids(settings)) == sorted(set(_silver_ids(settings)))
    assert len(_silver_ids(settings)) == events  # loaded before the crash...

    restarted = consumer()
    try:
        stream = drain(restarted, settings=settings, max_records=5_000, timeout_s=2, idle_batches_to_stop=1)
    finally:
        restarted.close()

    # ...so the redelivered batch finds everything already there.
    total = stream.total()
    assert stream.received_by_source == {f"kafka:{topic}": produced}
    assert total.received == produced and total.balanced and stream.balanced
    assert total.silver_total == 0 and total.dlq == 0
    assert total.silver_already_present == events
    assert total.dlq_already_present == batch.malformed == 1
    assert total.duplicates == batch.duplicates == 1

    ids = _silver_ids(settings)
    assert len(ids) == len(set(ids)) == events
    dlq = _dlq(settings)
    assert [(r["reason_code"], r["raw"]) for r in dlq] == [(MALFORMED_JSON, batch.lines[-1])]
    assert dlq[0]["source_system"] == f"kafka:{topic}"

    with connect(settings, read_only=True) as wh:
        (row,) = wh.query(
            "SELECT trace_id, event_time, source_system FROM clean.facility_events WHERE event_id = @id",
            {"id": legacy["event_id"]},
        )
    assert row["trace_id"] == "trace-legacy"  # from the Kafka header
    assert row["source_system"] == "wms"
    assert row["event_time"].replace(tzinfo=dt.UTC) == legacy_time  # the broker timestamp

    # The group's committed offsets are the end of every partition: nothing left to redeliver.
    ends = _end_offsets(kafka_broker.bootstrap_servers, topic, partitions=2, expected=produced)
    checker = Consumer(consumer_config(kafka, group_id=group))
    try:
        committed = checker.committed([TopicPartition(topic, p) for p in range(2)], timeout=10)
    finally:
        checker.close()
    # A partition the producer never wrote to has nothing to commit (librdkafka reports -1001).
    assert {tp.partition: tp.offset for tp in committed if tp.offset >= 0} == ends
    assert all(tp.offset < 0 for tp in committed if tp.partition not in ends)
    assert sum(ends.values()) == produced


def _end_offsets(bootstrap_servers: str, topic: str, *, partitions: int, expected: int) -> dict[int, int]:
    """Each partition's end offset (last offset + 1), found by reading it, outside any group.

    Not ``get_watermark_offsets``: Tansu 0.6.0 answers ListOffsets(latest) with the base offset
    of the last record batch + 1, which is short whenever a batch holds more than one record.
    """
    reader = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": f"reader-{uuid.uuid4().hex[:8]}"})
    ends: dict[int, int] = {}
    seen = 0
    try:
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        deadline = time.monotonic() + 20
        while seen < expected and time.monotonic() < deadline:
            for message in reader.consume(num_messages=1000, timeout=0.5):
                assert message.error() is None, message.error()
                ends[message.partition()] = max(ends.get(message.partition(), 0), message.offset() + 1)
                seen += 1
    finally:
        reader.close()
    assert seen == expected
    return ends
