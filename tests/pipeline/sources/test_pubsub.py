"""The Pub/Sub source against the official emulator: attributes kept, ack after load, redelivery deduped.

One topic feeds two subscriptions, so both halves of the contract run on the same
messages in one ack-deadline wait: ``acked`` is drained normally (and must stay empty
after its ack deadline), ``crashy`` dies before acking (and must come back, once, without
adding a second silver row).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from google.cloud import pubsub_v1

from logistics.settings import Settings, StorageSettings
from logistics.warehouse import connect
from pipeline.dead_letter import MALFORMED_JSON
from pipeline.sources.base import SourceRecord
from pipeline.sources.pubsub import PubSubBatchSource, ensure_topic_and_subscription, publish
from pipeline.sources.simulator.spine import generate_events
from pipeline.streaming import StreamLedger, drain

SILVER = ("clean.shipment_events", "clean.delivery_events", "clean.facility_events", "clean.driver_events")
ACK_DEADLINE_S = 10  # the emulator's minimum; redelivery of the crashed batch waits this long


class SimulatedCrash(RuntimeError):
    pass


class CrashBeforeAck:
    """The process dies after the batch is loaded into silver, before the messages are acked."""

    def __init__(self, inner: PubSubBatchSource) -> None:
        self.inner = inner

    def poll(self, *, max_records: int, timeout_s: float) -> list[SourceRecord]:
        return self.inner.poll(max_records=max_records, timeout_s=timeout_s)

    def commit(self) -> None:
        raise SimulatedCrash("killed between the silver load and the ack")

    def close(self) -> None:
        self.inner.close()


def _silver(settings: Settings) -> dict[str, dict[str, Any]]:
    """event_id -> row, failing on any event_id that appears twice."""
    with connect(settings, read_only=True) as wh:
        rows = [r for t in SILVER for r in wh.query(f"SELECT event_id, event_type, event_time, trace_id FROM {t}")]
    by_id = {r["event_id"]: r for r in rows}
    assert len(by_id) == len(rows), "an event_id appears twice in silver"
    return by_id


def _dlq(settings: Settings) -> list[dict[str, Any]]:
    with connect(settings, read_only=True) as wh:
        return wh.query("SELECT reason_code, source_system, raw FROM clean.dlq_events")


def _drain_until_redelivered(source: PubSubBatchSource, settings: Settings, *, within_s: float) -> StreamLedger:
    """Poll until the unacked messages come back (after their ack deadline), then drain them all."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        stream = drain(source, settings=settings, max_records=5_000, timeout_s=2, idle_batches_to_stop=1)
        if stream.batches:
            return stream
    raise AssertionError(f"unacked messages were not redelivered within {within_s}s")


def test_attributes_fill_the_envelope_acks_stick_and_a_crash_before_ack_is_redelivered_once(
    pubsub_emulator, tmp_path: Path
) -> None:
    project, run = pubsub_emulator.project, uuid.uuid4().hex[:8]
    topic = f"events-{run}"
    ensure_topic_and_subscription(project=project, topic=topic, subscription=f"acked-{run}", ack_deadline_s=10)
    ensure_topic_and_subscription(project=project, topic=topic, subscription=f"crashy-{run}", ack_deadline_s=10)

    batch = generate_events(shipments=4, seed=5)
    messages: list[tuple[bytes, dict[str, str]]] = []
    for line in batch.lines:
        body = orjson.loads(line) if line.startswith("{") and line.endswith("}") else {}
        messages.append((line.encode(), {"event_type": body.get("event_type", ""), "producer": "generator"}))
    # A producer that puts type and trace only in the attributes...
    typed_by_attribute = orjson.loads(batch.lines[3]) | {"event_id": str(uuid.uuid4())}
    event_type = typed_by_attribute.pop("event_type")
    del typed_by_attribute["trace_id"]
    messages.append((orjson.dumps(typed_by_attribute), {"event_type": event_type, "trace_id": "trace-attr"}))
    # ...and one that sends no event time: the publish time stands in.
    untimed = orjson.loads(batch.lines[4]) | {"event_id": str(uuid.uuid4())}
    del untimed["event_time"]
    messages.append((orjson.dumps(untimed), {}))
    events = batch.events + 2

    published_after = dt.datetime.now(dt.UTC)
    publish(project=project, topic=topic, messages=messages)
    published_before = dt.datetime.now(dt.UTC)

    crashed_settings = Settings(storage=StorageSettings(data_dir=tmp_path / "crashy"))
    acked_settings = Settings(storage=StorageSettings(data_dir=tmp_path / "acked"))

    # crashy: loaded into silver, then killed before the ack.
    first = PubSubBatchSource(project=project, subscriptions=[f"crashy-{run}"])
    try:
        drain(CrashBeforeAck(first), settings=crashed_settings, max_records=5_000, timeout_s=10, idle_batches_to_stop=1)
        raise AssertionError("the crash was not raised")
    except SimulatedCrash:
        pass
    finally:
        first.close()
    assert len(_silver(crashed_settings)) == events

    # acked: a normal drain.
    acked = PubSubBatchSource(project=project, subscriptions=[f"acked-{run}"])
    try:
        stream = drain(acked, settings=acked_settings, max_records=5_000, timeout_s=10, idle_batches_to_stop=1)
        acked_at = time.monotonic()
    finally:
        acked.close()
    total = stream.total()
    assert stream.received_by_source == {f"pubsub:acked-{run}": len(messages)}
    assert total.received == len(messages) and total.balanced and stream.balanced
    assert total.silver_total == events and total.dlq == 1 and total.duplicates == batch.duplicates

    silver = _silver(acked_settings)
    assert len(silver) == events
    by_attribute = silver[typed_by_attribute["event_id"]]
    assert (by_attribute["event_type"], by_attribute["trace_id"]) == (event_type, "trace-attr")
    untimed_time = silver[untimed["event_id"]]["event_time"].replace(tzinfo=dt.UTC)
    assert published_after - dt.timedelta(seconds=1) <= untimed_time <= published_before + dt.timedelta(seconds=1)
    dlq = _dlq(acked_settings)
    assert [(r["reason_code"], r["source_system"], r["raw"]) for r in dlq] == [
        (MALFORMED_JSON, f"pubsub:acked-{run}", batch.lines[-1])
    ]

    # crashy again: the unacked messages come back after the ack deadline; nothing doubles.
    restarted = PubSubBatchSource(project=project, subscriptions=[f"crashy-{run}"])
    try:
        redelivered = _drain_until_redelivered(restarted, crashed_settings, within_s=ACK_DEADLINE_S * 4).total()
    finally:
        restarted.close()
    assert redelivered.received == len(messages) and redelivered.balanced
    assert redelivered.silver_total == 0 and redelivered.dlq == 0
    # A duplicate pair split across two pulls is counted as "already present" instead of "duplicate".
    assert redelivered.silver_already_present + redelivered.duplicates == events + batch.duplicates
    assert redelivered.dlq_already_present == 1
    assert len(_silver(crashed_settings)) == events
    assert len(_dlq(crashed_settings)) == 1

    # acked stays empty once its ack deadline has long passed: the acks were real.
    time.sleep(max(0.0, acked_at + ACK_DEADLINE_S + 1 - time.monotonic()))
    subscriber = pubsub_v1.SubscriberClient()
    try:
        path = subscriber.subscription_path(project, f"acked-{run}")
        response = subscriber.pull(request={"subscription": path, "max_messages": 100}, timeout=5)
    finally:
        subscriber.close()
    assert list(response.received_messages) == []
