"""The unbounded pipeline end to end on the local streaming runner, against the Pub/Sub emulator
and the Kafka-protocol broker: the simulator publishes a small day with its faults while the
pipeline runs, and silver, the DLQ and the duplicate count must equal its ground truth. Restarts
duplicate nothing; a killed Kafka bridge loses nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import pubsub_v1

from logistics.settings import PROJECT_ROOT, Settings
from logistics.updates import read_update
from logistics.warehouse import connect, silver_tables
from pipeline.sinks.bronze import read_bronze
from pipeline.sources.simulator import GroundTruth, SimulationConfig, simulate, write_jsonl
from pipeline.unbounded import ensure_topics, start_unbounded, wait_until_quiet

pytestmark = pytest.mark.integration

SILVER = sorted(t.name for t in silver_tables().values())


def _small_day(path: Path, *, shipments: int = 12, seed: int = 5) -> GroundTruth:
    """A simulated day ending about now, faults included (the stream's watermark is wall-clock time)."""
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=18)
    return write_jsonl(simulate(SimulationConfig(shipments=shipments, seed=seed, start=start)), path)


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def _stream_settings(emulator: Any, data_dir: Path, **pipeline: Any) -> Settings:
    run = uuid.uuid4().hex[:6]
    topics = {
        "shipment": f"shipment-{run}",
        "facility": f"facility-{run}",
        "driver": f"driver-{run}",
        "delivery": f"delivery-{run}",
        "dlq": f"dlq-{run}",
        "alerts": f"alerts-{run}",
        "updates": f"updates-{run}",
    }
    settings = Settings.model_validate(
        {
            "gcp": {"project_id": emulator.project},
            "pubsub": {"topics": topics},
            "storage": {"data_dir": str(data_dir)},
            "pipeline": {"publish_to_topics": True, "flush_seconds": 0.5, "bronze_flush_seconds": 2, **pipeline},
        }
    )
    ensure_topics(settings)
    return settings


def _publish(settings: Settings, lines: list[bytes]) -> None:
    from pipeline.sources.pubsub import publish
    from pipeline.sources.routing import route

    by_topic: dict[str, list[tuple[bytes, dict[str, str]]]] = {}
    for line in lines:
        topic, attributes = route(line, event_topics=settings.pubsub.event_topics())
        by_topic.setdefault(topic, []).append((line, attributes))
    for topic, messages in by_topic.items():
        publish(project=settings.gcp.project_id, topic=topic, messages=messages)


def _warehouse(settings: Settings) -> dict[str, Any]:
    with connect(settings, read_only=True) as wh:
        silver = {t: [r["event_id"] for r in wh.query(f"SELECT event_id FROM clean.{t}")] for t in SILVER}
        dlq = wh.query("SELECT reason_code FROM clean.dlq_events")
        counts = wh.query("SELECT SUM(event_count) AS n FROM clean.event_counts_5m")[0]["n"]
    return {"silver": silver, "dlq": dlq, "counted": counts}


def _assert_truth(settings: Settings, truth: GroundTruth) -> dict[str, Any]:
    expected = truth.expected()
    seen = _warehouse(settings)
    assert {t: len(ids) for t, ids in seen["silver"].items()} == expected["silver_by_table"]
    for table, ids in seen["silver"].items():
        assert len(ids) == len(set(ids)), f"an event_id appears twice in {table}"
    assert sorted(r["reason_code"] for r in seen["dlq"]) == sorted(
        code for code, n in expected["dlq_by_reason"].items() for _ in range(n)
    )
    return seen


def _updates(settings: Settings, *, at_least: int, within_s: float = 30) -> list[dict[str, Any]]:
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(settings.gcp.project_id, f"{settings.pubsub.topics['updates']}-dataflow")
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + within_s
    while len(received) < at_least and time.monotonic() < deadline:
        try:
            response = subscriber.pull(request={"subscription": path, "max_messages": 1000}, timeout=2)
        except Exception:
            continue
        received.extend(read_update(m.message.data) for m in response.received_messages)
        if response.received_messages:
            subscriber.acknowledge(
                request={"subscription": path, "ack_ids": [m.ack_id for m in response.received_messages]}
            )
    subscriber.close()
    return received


def test_the_stream_matches_the_simulators_truth(pubsub_emulator: Any, tmp_path: Path) -> None:
    truth = _small_day(tmp_path / "day.jsonl")
    settings = _stream_settings(pubsub_emulator, tmp_path / "data")
    run = start_unbounded(settings=settings)
    try:
        _publish(settings, _lines(tmp_path / "day.jsonl"))
        expected = truth.expected()
        _wait_for(lambda: _settled(run.progress(), expected["received"]), within_s=180, what="every record")
    finally:
        final = run.stop(drain=True)
    assert final.received == expected["received"]
    assert final.duplicates + final.already_present == expected["duplicates"]
    assert final.accounted == final.received
    seen = _assert_truth(settings, truth)

    # Bronze archives each silver event once; 5-minute counts exist for what the windows accepted.
    archived = [e["event_id"] for e in read_bronze(f"{settings.storage.bronze}/*/*/*/*/*.avro")]
    assert sorted(archived) == sorted(i for ids in seen["silver"].values() for i in ids)
    assert seen["counted"] and 0 < seen["counted"] <= expected["silver"]
    # Each new shipment/delivery row reached the updates topic after its write.
    tables = expected["silver_by_table"]
    updates = _updates(settings, at_least=tables["shipment_events"] + tables["delivery_events"])
    published = {(u["table"], u["event_id"]) for u in updates}
    for table in ("shipment_events", "delivery_events"):
        assert {(table, i) for i in seen["silver"][table]} <= published
    assert {u["table"] for u in updates} <= {"shipment_events", "delivery_events"}


def _settled(progress: Any, received: int) -> bool:
    return bool(progress.received >= received and progress.accounted == progress.received)


def _cli(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "logistics.cli.main", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _env(settings: Settings, emulator: Any, **extra: str) -> dict[str, str]:
    topics = settings.pubsub.topics
    env = {
        **os.environ,
        "PUBSUB_EMULATOR_HOST": emulator.host,
        "LOGISTICS_GCP__PROJECT_ID": emulator.project,
        "LOGISTICS_STORAGE__DATA_DIR": str(settings.storage.data_dir),
        "LOGISTICS_PIPELINE__FLUSH_SECONDS": "0.5",
        "LOGISTICS_PIPELINE__BRONZE_FLUSH_SECONDS": "2",
        "LOGISTICS_PUBSUB__TOPICS": __import__("json").dumps(topics),
        **extra,
    }
    return env


def _wait_for(predicate: Any, *, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _silver_total(settings: Settings) -> int:
    try:
        with connect(settings, read_only=True) as wh:
            return sum(int(wh.query(f"SELECT COUNT(*) AS n FROM clean.{t}")[0]["n"]) for t in SILVER)
    except Exception:  # not created yet, or the writer holds the file this instant
        return -1


@pytest.fixture
def killed() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_a_restarted_stream_duplicates_nothing(
    pubsub_emulator: Any, tmp_path: Path, killed: list[subprocess.Popen[bytes]]
) -> None:
    truth = _small_day(tmp_path / "day.jsonl", shipments=8, seed=9)
    settings = _stream_settings(pubsub_emulator, tmp_path / "data")
    env, log = _env(settings, pubsub_emulator), tmp_path / "stream.log"
    lines = _lines(tmp_path / "day.jsonl")

    first = _cli(["run-pipeline", "--source", "pubsub", "--streaming"], env, log)
    killed.append(first)
    _wait_for(lambda: _silver_total(settings) >= 0, within_s=60, what="the stream's tables")
    _publish(settings, lines)
    _wait_for(lambda: _silver_total(settings) == truth.expected()["silver"], within_s=120, what="silver")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)

    # The restarted stream receives everything again (a producer replaying its day): nothing doubles.
    second = _cli(["run-pipeline", "--source", "pubsub", "--streaming", "--idle-timeout", "8"], env, log)
    killed.append(second)
    time.sleep(8)  # let it start reading before the replay arrives
    _publish(settings, lines)
    assert second.wait(timeout=240) == 0, log.read_text()[-3000:]
    seen = _assert_truth(settings, truth)
    archived = [e["event_id"] for e in read_bronze(f"{settings.storage.bronze}/*/*/*/*/*.avro")]
    assert sorted(archived) == sorted(i for ids in seen["silver"].values() for i in ids)  # bronze: once each


def test_kafka_through_the_bridge_loses_nothing_when_the_bridge_is_killed(
    pubsub_emulator: Any, kafka_broker: Any, tmp_path: Path, killed: list[subprocess.Popen[bytes]]
) -> None:
    from confluent_kafka import Producer

    truth = _small_day(tmp_path / "day.jsonl", shipments=10, seed=4)
    settings = _stream_settings(pubsub_emulator, tmp_path / "data")
    topic, group = f"kafka-{uuid.uuid4().hex[:6]}", f"bridge-{uuid.uuid4().hex[:6]}"
    env = _env(
        settings,
        pubsub_emulator,
        LOGISTICS_KAFKA__BOOTSTRAP_SERVERS=kafka_broker.bootstrap_servers,
        LOGISTICS_KAFKA__TOPICS=f'["{topic}"]',
        LOGISTICS_KAFKA__CONSUMER_GROUP=group,
    )
    lines = _lines(tmp_path / "day.jsonl")
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for line in lines:
        producer.produce(topic, value=line)
    assert producer.flush(30) == 0

    run = start_unbounded(settings=settings)
    try:
        # The bridge is killed twice mid-stream, then runs to the end: commits follow Pub/Sub's acks.
        for attempt in range(1, 3):
            bridge = _cli(["kafka-bridge", "--max-records", "50"], env, tmp_path / "bridge.log")
            killed.append(bridge)
            at_least = attempt * 60
            _wait_for(lambda n=at_least: run.progress().received > n, within_s=120, what="bridged records")
            bridge.send_signal(signal.SIGKILL)
            bridge.wait(timeout=30)
        bridge = _cli(["kafka-bridge"], env, tmp_path / "bridge.log")
        killed.append(bridge)
        _wait_for(lambda: run.progress().silver >= truth.expected()["silver"], within_s=180, what="every event")
        wait_until_quiet(idle_s=5, timeout_s=60)
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(timeout=30)
    finally:
        final = run.stop(drain=True)
    _assert_truth(settings, truth)
    assert final.received >= truth.expected()["received"]  # republished after a kill: more received, same silver
    assert final.accounted == final.received


def test_a_bridge_that_fails_stops_the_stream_with_its_error_in_one_line(
    pubsub_emulator: Any, kafka_broker: Any, tmp_path: Path
) -> None:
    """``run-pipeline --source kafka --streaming`` with a topic the broker lacks: the bridge's error
    ends the run (its ledger printed first), not a thread's traceback and a stream waiting forever."""
    settings = _stream_settings(pubsub_emulator, tmp_path / "data")
    missing = f"absent-{uuid.uuid4().hex[:6]}"
    env = _env(
        settings,
        pubsub_emulator,
        LOGISTICS_KAFKA__BOOTSTRAP_SERVERS=kafka_broker.bootstrap_servers,
        LOGISTICS_KAFKA__TOPICS=f'["{missing}"]',
    )
    log = tmp_path / "stream.log"
    stream = _cli(["run-pipeline", "--source", "kafka", "--streaming"], env, log)
    try:
        code = stream.wait(timeout=240)
    finally:
        if stream.poll() is None:
            stream.kill()
    output = log.read_text()
    assert code == 1, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "Conservation ledger (unbounded run)" in output
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and missing in errors[0], output[-3000:]
