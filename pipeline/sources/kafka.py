"""The Kafka source: a consumer group drained in acknowledged micro-batches (confluent-kafka).

Offsets are committed by hand, synchronously, and only by :meth:`KafkaBatchSource.commit`,
which :func:`pipeline.streaming.drain` calls after bronze, silver and the DLQ hold the
batch. Auto-commit is off, so a crash anywhere before that redelivers the batch to the
group (at-least-once); silver's load skips event_ids it already has, which makes the
result effectively-once.

Values are plain JSON, or Confluent wire format: magic byte ``0``, a 4-byte big-endian
schema id, then an Avro body. Wire-format values are decoded with the generated
envelope schema and handed on as JSON, so normalize sees one format. We run no schema
registry client: every schema id is read as the envelope (``contracts.generated.coders.
ENVELOPE_SCHEMA``), the one schema our producers register for these topics. A producer
writing another schema under another id would decode wrongly or fail; a value that
does not decode is passed through unchanged, so normalize routes it to the DLQ
(``malformed_json``) with its bytes kept, never dropped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import struct
import time
from collections.abc import Mapping, Sequence
from typing import Any

import fastavro
import orjson
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, KafkaException, Message, TopicPartition

from contracts.generated.coders import ENVELOPE_SCHEMA
from logistics.settings import KafkaSettings
from pipeline.sources.base import SourceRecord

log = logging.getLogger(__name__)

WIRE_MAGIC = 0
_WIRE_HEADER = struct.Struct(">bI")  # magic byte, schema id
_PARSED_ENVELOPE = fastavro.parse_schema(ENVELOPE_SCHEMA)
# After the first message of a batch, keep collecting only what is already fetched.
_BATCH_LINGER_S = 0.2


def encode_wire_format(envelope: Mapping[str, Any], *, schema_id: int = 1) -> bytes:
    """An envelope dict (``payload`` as JSON text) as a Confluent wire-format Avro value."""
    buffer = io.BytesIO()
    buffer.write(_WIRE_HEADER.pack(WIRE_MAGIC, schema_id))
    fastavro.schemaless_writer(buffer, _PARSED_ENVELOPE, dict(envelope))
    return buffer.getvalue()


def is_wire_format(value: bytes) -> bool:
    # JSON text never starts with a NUL byte, so the magic byte alone tells the formats apart.
    return len(value) > _WIRE_HEADER.size and value[0] == WIRE_MAGIC


def decode_value(value: bytes) -> bytes:
    """A Kafka value as JSON bytes for normalize: wire-format Avro is decoded, JSON passes through."""
    if not is_wire_format(value):
        return value
    try:
        record = fastavro.schemaless_reader(io.BytesIO(value[_WIRE_HEADER.size :]), _PARSED_ENVELOPE, None)
    except Exception as exc:  # fastavro raises EOFError, ValueError, UnicodeDecodeError, ... on bad bodies
        log.warning("undecodable Confluent wire-format value (%s); passing it on for the DLQ", exc)
        return value
    assert isinstance(record, dict)
    payload = record.get("payload")
    # The envelope carries the payload as JSON text; normalize wants the object back. Text
    # that is not JSON stays text, and normalize rejects it ("payload must be a JSON object").
    with contextlib.suppress(orjson.JSONDecodeError):
        record["payload"] = orjson.loads(payload) if isinstance(payload, str) else payload
    return orjson.dumps(record, option=orjson.OPT_UTC_Z)


def security_config(kafka: KafkaSettings) -> dict[str, Any]:
    """librdkafka's connection and security settings, shared by consumers and producers."""
    config: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "security.protocol": kafka.security_protocol,
    }
    if kafka.security_protocol.startswith("SASL"):
        if not (kafka.sasl_username and kafka.sasl_password):
            raise ValueError(
                f"kafka.security_protocol={kafka.security_protocol} needs sasl_username and sasl_password "
                "(set LOGISTICS_KAFKA__SASL_USERNAME / LOGISTICS_KAFKA__SASL_PASSWORD)"
            )
        # PLAIN over TLS is what Confluent Cloud and most managed clusters use; override via ``extra``.
        config |= {
            "sasl.mechanism": "PLAIN",
            "sasl.username": kafka.sasl_username,
            "sasl.password": kafka.sasl_password,
        }
    return config


def consumer_config(
    kafka: KafkaSettings,
    *,
    group_id: str,
    bootstrap_servers: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """librdkafka consumer settings: manual commits, earliest offset for a new group, security from settings."""
    config = security_config(kafka) | {
        "group.id": group_id,
        "enable.auto.commit": False,  # commit only after the batch is durable (see module doc)
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",  # a new group starts at the beginning: nothing is skipped
        # A dead member's partitions move on after 10 s instead of librdkafka's 45 s. Heartbeats
        # run on a background thread, so a long pipeline run between polls is bounded by
        # max.poll.interval.ms (5 min), not by this.
        "session.timeout.ms": 10_000,
    }
    if bootstrap_servers:
        config["bootstrap.servers"] = bootstrap_servers
    return config | dict(extra or {})


class KafkaBatchSource:
    """A consumer-group member returning micro-batches; ``commit`` stores the offsets after them."""

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        topics: Sequence[str] | None = None,
        group_id: str | None = None,
        bootstrap_servers: str | None = None,
        extra_config: Mapping[str, Any] | None = None,
        join_timeout_s: float = 60.0,
    ) -> None:
        self.topics = list(topics or kafka.topics)
        if not self.topics:
            raise ValueError("no Kafka topics to consume (set kafka.topics or pass topics=)")
        self.group_id = group_id or kafka.consumer_group
        self._consumer = Consumer(
            consumer_config(kafka, group_id=self.group_id, bootstrap_servers=bootstrap_servers, extra=extra_config)
        )
        self._join_timeout_s = join_timeout_s
        self._assigned: set[tuple[str, int]] = set()
        self._joined = False
        # (topic, partition) -> next offset to read, for everything polled but not yet committed.
        self._pending: dict[tuple[str, int], int] = {}
        self._consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._joined = True
        self._assigned |= {(p.topic, p.partition) for p in partitions}

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(p.topic, p.partition) for p in partitions}
        self._assigned -= revoked
        # Records of a revoked partition are not durable yet; committing them later would be a
        # lie, so forget them: the partition's new owner re-reads them from the last commit.
        dropped = [tp for tp in self._pending if tp in revoked]
        for tp in dropped:
            del self._pending[tp]
        if dropped:
            log.info("partitions %s revoked with uncommitted records: they will be redelivered", dropped)

    @property
    def assignment(self) -> set[tuple[str, int]]:
        return set(self._assigned)

    def poll(self, *, max_records: int, timeout_s: float) -> list[SourceRecord]:
        """Up to ``max_records``; waits ``timeout_s`` for the first (after the group join completes)."""
        records = self._await_join(max_records=max_records)
        if not records:
            # consume() waits its whole timeout unless num_messages arrive, so wait for ONE record,
            # then take what the client has fetched meanwhile with a short linger.
            records = [r for r in map(self._record, self._consumer.consume(num_messages=1, timeout=timeout_s)) if r]
            if not records:
                return []
        while len(records) < max_records:
            messages = self._consumer.consume(num_messages=max_records - len(records), timeout=_BATCH_LINGER_S)
            if not messages:
                break
            records.extend(r for r in map(self._record, messages) if r is not None)
        return records

    def _await_join(self, *, max_records: int) -> list[SourceRecord]:
        """Drive the group join until partitions are assigned (it takes ~session.timeout.ms / 2).

        Polling before the join completes returns nothing, which a caller would take for an
        idle topic and stop; and closing mid-join can leave the group stuck on some brokers.
        Records fetched in the call that completes the join are returned, not lost.
        """
        records: list[SourceRecord] = []
        deadline = time.monotonic() + self._join_timeout_s
        while not self._joined:
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumer group {self.group_id!r} was not assigned partitions in time")
            messages = self._consumer.consume(num_messages=max_records, timeout=0.2)
            records.extend(r for r in map(self._record, messages) if r is not None)
        return records

    def _record(self, message: Message) -> SourceRecord | None:
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return None
            raise KafkaException(error)
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        assert topic is not None and partition is not None and offset is not None
        self._pending[(topic, partition)] = offset + 1
        kind, millis = message.timestamp()
        published = (
            dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)
            if kind != TIMESTAMP_NOT_AVAILABLE and millis > 0
            else None
        )
        raw_headers = message.headers() or []
        # A consumer's messages carry headers as a list of pairs; the dict form is a producer's.
        pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
        headers = {
            key: value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
            for key, value in pairs
            if value is not None
        }
        return SourceRecord(
            value=decode_value(message.value() or b""),
            source_system=f"kafka:{topic}",
            attributes=headers,
            publish_time=published,
        )

    def commit(self) -> None:
        """Commit, synchronously, the offset after the last polled record of each partition."""
        if not self._pending:
            return
        offsets = [TopicPartition(topic, partition, offset) for (topic, partition), offset in self._pending.items()]
        self._consumer.commit(offsets=offsets, asynchronous=False)
        self._pending.clear()

    def close(self) -> None:
        """Leave the group without committing anything still pending (it is not durable)."""
        self._pending.clear()
        self._consumer.close()
