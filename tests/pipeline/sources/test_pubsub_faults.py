"""Pub/Sub outage drills: the real ``logistics run-pipeline --source pubsub`` process against the
official emulator, absent at start, killed mid-batch, or frozen (SIGSTOP) mid-batch.

As with Kafka: a zero exit only with every event in silver exactly once; otherwise a non-zero
exit with the ledger so far, what stays unacknowledged, and one error line; never a traceback.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from logistics.errors import SourceUnavailable
from logistics.local import free_port
from logistics.local.pubsub import PUBSUB_PROJECT, missing_reason, pubsub_emulator
from pipeline.sources.pubsub import PubSubBatchSource, ensure_topic_and_subscription, publish
from pipeline.sources.simulator import SimulationConfig, simulate, write_jsonl

SILVER = ("shipment_events", "delivery_events", "facility_events", "driver_events")
FAMILIES = ("shipment", "facility", "driver", "delivery")

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _emulator_installed() -> None:
    if reason := missing_reason():
        pytest.skip(f"PUB/SUB EMULATOR DRILLS NOT RUN: {reason}; nothing stands in for the emulator")


def _env(data_dir: Path, *, host: str, topic: str) -> dict[str, str]:
    """Every event family read from one topic (one subscription): the drills need one feed."""
    return {
        "LOGISTICS_STORAGE__DATA_DIR": str(data_dir),
        "LOGISTICS_GCP__PROJECT_ID": PUBSUB_PROJECT,
        "PUBSUB_EMULATOR_HOST": host,
        **{f"LOGISTICS_PUBSUB__TOPICS__{family.upper()}": topic for family in FAMILIES},
    }


def _publish_feed(tmp_path: Path, *, topic: str, shipments: int, seed: int) -> tuple[int, int]:
    """Publish a simulated day to ``topic`` (subscription ``<topic>-dataflow``); (records, silver events)."""
    path = tmp_path / "events.jsonl"
    truth = write_jsonl(simulate(SimulationConfig(shipments=shipments, days=1, seed=seed)), path)
    ensure_topic_and_subscription(project=PUBSUB_PROJECT, topic=topic, subscription=f"{topic}-dataflow")
    lines = path.read_bytes().splitlines()
    publish(project=PUBSUB_PROJECT, topic=topic, messages=((line, {}) for line in lines))
    return len(lines), int(truth.expected()["silver"])


def _silver_exactly_once(data_dir: Path) -> int:
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        ids = [row[0] for table in SILVER for row in con.execute(f"SELECT event_id FROM clean.{table}").fetchall()]
    assert len(ids) == len(set(ids)), "an event is in silver twice"
    return len(ids)


def _wait_for(condition: Callable[[], bool], *, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within_s} s")
        time.sleep(0.05)


def _landing(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "staging" / "landing").glob("*.jsonl"))


def _no_traceback(output: str) -> str:
    assert "Traceback" not in output, output
    return output


def test_an_emulator_absent_at_start_is_retried_with_a_status_line_then_given_up(cli: Any, tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = _env(tmp_path / "data", host=host, topic="absent")
    started = time.monotonic()
    result = cli.run("run-pipeline", "--source", "pubsub", "--idle-timeout", "2", "--give-up-after", "6", env=env)
    took = time.monotonic() - started
    _no_traceback(result.stdout + result.stderr)
    assert result.returncode == 1
    statuses = [line for line in result.stderr.splitlines() if "retrying in" in line]
    assert statuses and all(
        line.startswith(f"Pub/Sub emulator at {host} unreachable while pulling (") for line in statuses
    ), result.stderr
    error = result.stderr.splitlines()[-1]
    assert error.startswith("error: gave up after ") and f"Pub/Sub emulator at {host} unreachable" in error
    assert "Conservation ledger" in result.stdout and "0 balanced" in result.stdout
    assert took < 45, f"giving up after 6 s of retries took {took:.0f} s"  # was ~60 s of the client's own retry


def test_an_emulator_killed_mid_batch_leaves_the_batch_in_silver_unacknowledged_and_says_so(
    cli: Any, tmp_path: Path
) -> None:
    topic = f"killed-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "data"
    log = tmp_path / "drain.log"
    with pubsub_emulator(log_dir=tmp_path / "emulator") as emulator:
        records, events = _publish_feed(tmp_path, topic=topic, shipments=60, seed=5)
        env = _env(data_dir, host=emulator.host, topic=topic)
        drain = cli.start(
            *("run-pipeline", "--source", "pubsub", "--idle-timeout", "5", "--give-up-after", "10"), env=env, log=log
        )
        try:
            _wait_for(lambda: bool(_landing(data_dir)), within_s=120, what="the first micro-batch")
            assert emulator.pid is not None
            os.killpg(emulator.pid, signal.SIGKILL)  # mid-batch: pulled, being loaded, not acked
            drain.wait(timeout=180)
        finally:
            if drain.poll() is None:
                drain.kill()
    output = _no_traceback(log.read_text())
    assert drain.returncode == 1, output
    assert f"received from pubsub:{topic}-dataflow: {records}" in output
    assert "not committed: batch " in output and "records loaded but not committed" in output
    assert f"Pub/Sub emulator at {emulator.host} unreachable while acknowledging" in output
    assert [line for line in output.splitlines() if line.startswith("error: ")][-1].startswith("error: gave up after")
    assert _silver_exactly_once(data_dir) == events


def test_an_emulator_frozen_mid_batch_is_waited_out_and_the_drain_completes(cli: Any, tmp_path: Path) -> None:
    topic = f"frozen-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "data"
    log = tmp_path / "drain.log"
    with pubsub_emulator(log_dir=tmp_path / "emulator") as emulator:
        records, events = _publish_feed(tmp_path, topic=topic, shipments=100, seed=8)
        assert emulator.pid is not None
        env = _env(data_dir, host=emulator.host, topic=topic)
        drain = cli.start(
            *("run-pipeline", "--source", "pubsub", "--idle-timeout", "1", "--batch-size", "500"), env=env, log=log
        )
        try:
            _wait_for(lambda: bool(_landing(data_dir)), within_s=120, what="the first micro-batch")
            os.killpg(emulator.pid, signal.SIGSTOP)
            try:
                # A frozen service answers nothing: the source says so (bounded), never "drained".
                frozen = PubSubBatchSource(
                    project=PUBSUB_PROJECT, subscriptions=[f"{topic}-dataflow"], request_timeout_s=2
                )
                with pytest.raises(SourceUnavailable, match=f"Pub/Sub emulator at {emulator.host} unreachable"):
                    frozen.drained()
                frozen.close()
                time.sleep(15)
            finally:
                os.killpg(emulator.pid, signal.SIGCONT)
            drain.wait(timeout=300)
        finally:
            if drain.poll() is None:
                drain.kill()
    output = _no_traceback(log.read_text())
    assert drain.returncode == 0, output
    assert f"Pub/Sub emulator at {emulator.host} unreachable while " in output and "retrying in" in output
    (received,) = re.findall(rf"received from pubsub:{topic}-dataflow: (\d+)", output)
    assert int(received) >= records  # every message, some twice if redelivered after the freeze
    assert _silver_exactly_once(data_dir) == events
