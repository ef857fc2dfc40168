"""Kafka crash and outage drills: the real ``logistics run-pipeline --source kafka`` process
against real Tansu brokers, killed with SIGKILL, or with its broker absent, killed mid-batch
or frozen (SIGSTOP) for longer than a session.

Each ends in one of two states only: every event in silver exactly once and a zero exit,
or a non-zero exit that printed the ledger so far, what stays uncommitted, and one error
line; never a traceback, never a zero exit with events left behind.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from logistics.local import free_port
from logistics.local.kafka import KafkaBroker, create_topics, kafka_broker
from pipeline.sources.simulator import SimulationConfig, simulate, write_jsonl

SILVER = ("shipment_events", "delivery_events", "facility_events", "driver_events")
PARTITIONS = 4


@dataclass(frozen=True)
class Feed:
    lines: list[bytes]
    silver: int  # events expected in silver
    dlq: int


def _feed(tmp_path: Path, *, shipments: int, seed: int) -> Feed:
    path = tmp_path / "events.jsonl"
    truth = write_jsonl(simulate(SimulationConfig(shipments=shipments, days=1, seed=seed)), path)
    expected = truth.expected()
    return Feed(lines=path.read_bytes().splitlines(), silver=expected["silver"], dlq=expected["dlq"])


def _publish(broker: KafkaBroker, topic: str, lines: list[bytes]) -> None:
    create_topics(broker, topics=[topic], partitions=PARTITIONS)
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    for line in lines:
        producer.produce(topic, value=line)
        producer.poll(0)
    assert producer.flush(30) == 0


def _env(data_dir: Path, *, bootstrap_servers: str, topic: str, group: str) -> dict[str, str]:
    return {
        "LOGISTICS_STORAGE__DATA_DIR": str(data_dir),
        "LOGISTICS_KAFKA__BOOTSTRAP_SERVERS": bootstrap_servers,
        "LOGISTICS_KAFKA__TOPICS": json.dumps([topic]),
        "LOGISTICS_KAFKA__CONSUMER_GROUP": group,
        "LOGISTICS_KAFKA__SESSION_TIMEOUT_MS": "6000",  # a Tansu join waits half of it
    }


def _silver_exactly_once(data_dir: Path) -> int:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        ids = [row[0] for table in SILVER for row in con.execute(f"SELECT event_id FROM clean.{table}").fetchall()]
    assert len(ids) == len(set(ids)), "an event is in silver twice"
    return len(ids)


def _dlq_rows(data_dir: Path) -> int:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM clean.dlq_events").fetchone()
    return int(row[0]) if row else 0


def _landing(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "staging" / "landing").glob("*.jsonl"))


def _wait_for(condition: Callable[[], bool], *, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within_s} s")
        time.sleep(0.05)


def _no_traceback(output: str) -> str:
    assert "Traceback" not in output, output
    return output


def _committed_to_the_end(bootstrap_servers: str, topic: str, group: str, *, records: int) -> None:
    """The group's committed offsets are every partition's true end (read, not asked: Tansu's
    latest-offset answer is short when a record batch holds several records)."""
    reader = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": f"reader-{uuid.uuid4().hex[:8]}"})
    ends: dict[int, int] = {}
    try:
        reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        seen, deadline = 0, time.monotonic() + 60
        while seen < records and time.monotonic() < deadline:
            for message in reader.consume(num_messages=1000, timeout=0.5):
                assert message.error() is None, message.error()
                ends[message.partition()] = message.offset() + 1
                seen += 1
        assert seen == records
    finally:
        reader.close()
    checker = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": group})
    try:
        committed = checker.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
    finally:
        checker.close()
    assert {tp.partition: tp.offset for tp in committed if tp.partition in ends} == ends


@pytest.mark.integration
def test_five_sigkills_in_a_row_then_a_drain_with_every_event_in_silver_exactly_once(
    cli: Any, kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    feed = _feed(tmp_path, shipments=300, seed=11)
    topic, group = f"kills-{uuid.uuid4().hex[:8]}", f"kills-{uuid.uuid4().hex[:8]}"
    _publish(kafka_broker, topic, feed.lines)
    data_dir = tmp_path / "data"
    env = _env(data_dir, bootstrap_servers=kafka_broker.bootstrap_servers, topic=topic, group=group)
    drain = ("run-pipeline", "--source", "kafka", "--idle-timeout", "5", "--batch-size", "700")

    # Each run is killed at a moment of its own, found by watching it (not by the clock, which
    # would hit different moments on a faster machine), plus a seeded random delay.
    rng = random.Random(20)

    def starting(log: Path, landed: set[Path]) -> None:
        time.sleep(rng.uniform(0.2, 2.0))

    def joining(log: Path, landed: set[Path]) -> None:
        _wait_for(lambda: "micro-batch drain of" in log.read_text(), within_s=60, what="the start of the drain")
        time.sleep(rng.uniform(0.0, 3.0))  # a join takes about half the 6 s session

    def loading(log: Path, landed: set[Path]) -> None:
        _wait_for(lambda: bool(set(_landing(data_dir)) - landed), within_s=90, what="a micro-batch")
        time.sleep(rng.uniform(0.0, 2.0))  # the batch is being loaded: polled, not committed

    def after_a_commit(log: Path, landed: set[Path]) -> None:
        _wait_for(lambda: bool(set(_landing(data_dir)) - landed), within_s=90, what="a micro-batch")
        (batch,) = set(_landing(data_dir)) - landed
        _wait_for(lambda: not batch.exists(), within_s=90, what="its commit")  # removed once committed
        time.sleep(rng.uniform(0.0, 0.3))  # polling the next batch

    moments = [starting, joining, loading, after_a_commit, loading]
    for attempt, moment in enumerate(moments):
        log = tmp_path / f"killed-{attempt}.log"
        landed = set(_landing(data_dir))  # a killed batch leaves its landing file behind
        process = cli.start(*drain, env=env, log=log)
        try:
            moment(log, landed)
            assert process.poll() is None, log.read_text()  # killed alive, not exited on its own
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

    final = cli.run(*drain, env=env, timeout=300)
    _no_traceback(final.stdout + final.stderr)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "NOT balanced" not in final.stdout
    assert _silver_exactly_once(data_dir) == feed.silver
    assert _dlq_rows(data_dir) == feed.dlq
    _committed_to_the_end(kafka_broker.bootstrap_servers, topic, group, records=len(feed.lines))


@pytest.mark.integration
def test_a_broker_absent_at_start_is_retried_with_a_status_line_then_given_up(cli: Any, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = _env(tmp_path / "data", bootstrap_servers=f"127.0.0.1:{port}", topic="absent", group="absent")
    started = time.monotonic()
    result = cli.run("run-pipeline", "--source", "kafka", "--idle-timeout", "2", "--give-up-after", "6", env=env)
    took = time.monotonic() - started
    _no_traceback(result.stdout + result.stderr)
    assert result.returncode == 1
    statuses = [line for line in result.stderr.splitlines() if "retrying in" in line]
    assert statuses and all(
        line.startswith(f"broker at 127.0.0.1:{port} unreachable while joining the consumer group (")
        for line in statuses
    ), result.stderr
    assert statuses[0].endswith(", retrying in 1 s")
    error = result.stderr.splitlines()[-1]
    assert error.startswith("error: gave up after ") and f"broker at 127.0.0.1:{port} unreachable" in error
    assert "Conservation ledger" in result.stdout and "0 balanced" in result.stdout  # the ledger, even so
    assert took < 60, f"giving up after 6 s of retries took {took:.0f} s"


@pytest.mark.integration
def test_a_broker_killed_mid_batch_leaves_the_batch_in_silver_uncommitted_and_says_so(cli: Any, tmp_path: Path) -> None:
    feed = _feed(tmp_path, shipments=60, seed=5)
    topic, group = f"killed-{uuid.uuid4().hex[:8]}", f"killed-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "data"
    log = tmp_path / "drain.log"
    with kafka_broker(log_dir=tmp_path / "tansu") as broker:
        _publish(broker, topic, feed.lines)
        env = _env(data_dir, bootstrap_servers=broker.bootstrap_servers, topic=topic, group=group)
        drain = cli.start(
            *("run-pipeline", "--source", "kafka", "--idle-timeout", "5", "--give-up-after", "10"), env=env, log=log
        )
        try:
            _wait_for(lambda: bool(_landing(data_dir)), within_s=120, what="the first micro-batch")
            assert broker.pid is not None
            os.kill(broker.pid, signal.SIGKILL)  # mid-batch: polled, being loaded, not committed
            drain.wait(timeout=180)
        finally:
            if drain.poll() is None:
                drain.kill()
    output = _no_traceback(log.read_text())
    assert drain.returncode == 1, output
    assert f"received from kafka:{topic}: {len(feed.lines)}" in output  # the ledger of the loaded batch
    assert f"{len(feed.lines)} balanced" in output
    assert "not committed: batch " in output and "records loaded but not committed" in output
    assert f"broker at {broker.bootstrap_servers} unreachable while committing offsets" in output
    assert [line for line in output.splitlines() if line.startswith("error: ")][-1].startswith("error: gave up after")
    assert _silver_exactly_once(data_dir) == feed.silver


@pytest.mark.integration
def test_a_broker_frozen_longer_than_a_session_does_not_end_the_drain_early(cli: Any, tmp_path: Path) -> None:
    """Frozen mid-batch for 20 s (> the 6 s session), the member is expired: after the thaw the
    commit is refused or late and the group rebalances, and polls come back empty for a while.
    Those empty polls must not end the drain (--idle-timeout 1): only the end offsets do."""
    feed = _feed(tmp_path, shipments=200, seed=9)
    topic, group = f"frozen-{uuid.uuid4().hex[:8]}", f"frozen-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "data"
    log = tmp_path / "drain.log"
    with kafka_broker(log_dir=tmp_path / "tansu") as broker:
        _publish(broker, topic, feed.lines)
        assert broker.pid is not None
        env = _env(data_dir, bootstrap_servers=broker.bootstrap_servers, topic=topic, group=group)
        drain = cli.start(
            *("run-pipeline", "--source", "kafka", "--idle-timeout", "1", "--batch-size", "1000"), env=env, log=log
        )
        try:
            _wait_for(lambda: bool(_landing(data_dir)), within_s=120, what="the first micro-batch")
            os.kill(broker.pid, signal.SIGSTOP)
            try:
                time.sleep(20)
            finally:
                os.kill(broker.pid, signal.SIGCONT)
            drain.wait(timeout=300)
        finally:
            if drain.poll() is None:
                drain.kill()
        output = _no_traceback(log.read_text())
        assert drain.returncode == 0, output
        assert f"broker at {broker.bootstrap_servers} unreachable while " in output and "retrying in" in output
        assert _silver_exactly_once(data_dir) == feed.silver
        assert _dlq_rows(data_dir) == feed.dlq
        _committed_to_the_end(broker.bootstrap_servers, topic, group, records=len(feed.lines))


def test_the_drained_check_reads_past_a_short_latest_offset(kafka_broker: KafkaBroker) -> None:
    """Tansu 0.6.0 answers a latest-offset request with the base offset of the last record batch
    + 1. A partition this member never fetched, whose committed offset sits inside that batch,
    looks read to its end by that answer; drained() must read past it and say no."""
    from logistics.settings import KafkaSettings
    from pipeline.sources.kafka import KafkaBatchSource

    topic, group = f"short-{uuid.uuid4().hex[:8]}", f"short-{uuid.uuid4().hex[:8]}"
    create_topics(kafka_broker, topics=[topic], partitions=1)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers, "linger.ms": 100})
    for i in range(10):  # one record batch of 10 records: Tansu reports the end as 1, not 10
        producer.produce(topic, value=b"%d" % i, partition=0)
    assert producer.flush(10) == 0
    committer = Consumer({"bootstrap.servers": kafka_broker.bootstrap_servers, "group.id": group})
    try:
        committer.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)  # inside the batch
        _, latest = committer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
    finally:
        committer.close()
    kafka = KafkaSettings(bootstrap_servers=kafka_broker.bootstrap_servers, topics=[topic], consumer_group=group)
    source = KafkaBatchSource(kafka=kafka, extra_config={"session.timeout.ms": 6000})
    try:
        # Not joined: the partition is nobody's, read by the group to offset 3 of 10.
        assert latest <= 3, f"Tansu now reports the end right ({latest}): this no longer exercises the read-past check"
        assert source.drained() is False
    finally:
        source.close()
