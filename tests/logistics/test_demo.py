"""End to end: a reduced ``logistics demo`` through every layer, checked against the simulator's truth.

The demo runs as a user runs it (its own process, its own Airflow home, the API on uvicorn);
the checks then compare what landed with the ground truth the simulator counted while it
wrote the events, an independent computation.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import orjson
import pytest

from graphql_api.local import run_query
from logistics import demo as tour
from logistics.local.pubsub import missing_reason
from logistics.settings import PROJECT_ROOT, Settings, StorageSettings
from logistics.warehouse import connect
from pipeline.sources.simulator import Faults, SimulationConfig, simulate, write_jsonl

PERFORMANCE_BY_CARRIER = "{ deliveryPerformance(groupBy: CARRIER) { key deliveries onTimeDeliveries source } }"


# The demo's own limit: below pytest's (`timeout` in pyproject.toml, which counts this fixture's
# setup too), so a slow demo fails here with its output rather than as a bare pytest timeout.
DEMO_TIMEOUT_S = 480


@pytest.fixture(scope="module")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> tuple[Settings, str, dict[str, Any]]:
    assert float(pytestconfig.getini("timeout")) > DEMO_TIMEOUT_S, "pytest's timeout would pre-empt the demo's"
    data_dir = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "LOGISTICS_STORAGE__DATA_DIR": str(data_dir), "DEMO_SOURCE": "file"}
    command = [sys.executable, "-m", "logistics.cli.main", "demo", "--no-serve", "--shipments", "150", "--seed", "3"]
    try:
        done = subprocess.run(
            command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=DEMO_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as slow:
        so_far = f"{slow.stdout or ''}{slow.stderr or ''}"
        pytest.fail(f"the demo ran over {DEMO_TIMEOUT_S} s; its output so far:\n{so_far[-5000:]}")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    truth = orjson.loads((data_dir / "input" / "truth.json").read_bytes())
    return Settings(storage=StorageSettings(data_dir=data_dir)), output, truth


def test_the_demo_prints_every_layer(demo_run: tuple[Settings, str, dict[str, Any]]) -> None:
    settings, output, truth = demo_run
    assert "balanced" in output
    assert "FAILED" not in output
    for title in tour.EXAMPLE_QUERIES:
        assert title in output
    assert f'"id": "{truth["first_shipment"]}"' in output  # the journey query answered over HTTP
    assert "http://127.0.0.1:" in output and "/graphql" in output
    assert str(settings.storage.resolved_data_dir() / "quality") in output


def test_silver_and_dlq_hold_what_the_simulator_planted(demo_run: tuple[Settings, str, dict[str, Any]]) -> None:
    """The backfilled day plus the live feed the unbounded pipeline took (each has its truth)."""
    settings, _, truth = demo_run
    feeds = [truth["expected"]]
    live = tour.live_truth_path(settings)
    if missing_reason() is None:
        feeds.append(orjson.loads(live.read_bytes())["expected"])
    with connect(settings, read_only=True) as warehouse:
        for table in feeds[0]["silver_by_table"]:
            rows = sum(feed["silver_by_table"].get(table, 0) for feed in feeds)
            assert warehouse.query(f"SELECT COUNT(*) AS n FROM clean.{table}")[0]["n"] == rows, table
        reasons = {
            r["reason_code"]: r["n"]
            for r in warehouse.query("SELECT reason_code, COUNT(*) AS n FROM clean.dlq_events GROUP BY reason_code")
        }
    expected_reasons = {reason: sum(f["dlq_by_reason"][reason] for f in feeds) for reason in feeds[0]["dlq_by_reason"]}
    assert reasons == {reason: n for reason, n in expected_reasons.items() if n}
    assert truth["records"] == feeds[0]["silver"] + feeds[0]["dlq"] + feeds[0]["duplicates"]


def test_the_demo_streams_a_live_feed_and_measures_its_latency(demo_run: tuple[Settings, str, dict[str, Any]]) -> None:
    if reason := missing_reason():
        pytest.skip(f"LIVE STEP NOT RUN: {reason}")
    _, output, _ = demo_run
    assert "2b. live" in output and "published at 40/s" in output
    assert "event -> silver latency" in output and "p95" in output


def test_gold_on_time_per_carrier_matches_the_truth(demo_run: tuple[Settings, str, dict[str, Any]]) -> None:
    settings, _, truth = demo_run
    with connect(settings, read_only=True) as warehouse:
        gold = {
            r["carrier_id"]: (r["deliveries"], r["on_time"])
            for r in warehouse.query(
                "SELECT carrier_id, COUNT(*) AS deliveries, COUNTIF(on_time_flag) AS on_time "
                "FROM curated.fact_deliveries GROUP BY carrier_id"
            )
        }
    true = {cid: (c["deliveries"], c["on_time"]) for cid, c in truth["carriers"].items() if c["deliveries"]}
    assert gold == true
    assert len(true) == 2 and all(on_time < n for n, on_time in true.values())  # realistic: not every promise kept


def test_graphql_answers_delivery_performance_from_gold(demo_run: tuple[Settings, str, dict[str, Any]]) -> None:
    settings, _, truth = demo_run
    answer = run_query(settings, PERFORMANCE_BY_CARRIER)
    assert answer["errors"] == []
    got = {
        g["key"]: (g["deliveries"], g["onTimeDeliveries"], g["source"]) for g in answer["data"]["deliveryPerformance"]
    }
    assert got == {
        cid: (c["deliveries"], c["on_time"], "gold") for cid, c in truth["carriers"].items() if c["deliveries"]
    }


@pytest.mark.parametrize("broker", ["kafka", "pubsub"])
def test_the_demo_ingests_through_a_real_broker(broker: Literal["kafka", "pubsub"], tmp_path: Path) -> None:
    """``DEMO_SOURCE=kafka|pubsub``: the demo starts the broker, publishes the day, drains it."""
    if broker == "pubsub" and (reason := missing_reason()):
        pytest.skip(f"PUB/SUB EMULATOR TEST NOT RUN: {reason}")
    settings = Settings(storage=StorageSettings(data_dir=tmp_path))
    faults = Faults(duplicate=0.05, malformed=0.02, unknown_type=0.02)
    truth = write_jsonl(simulate(SimulationConfig(shipments=25, seed=9, faults=faults)), tmp_path / "events.jsonl")
    ledger = tour.ingest(settings, source=broker, input_path=tmp_path / "events.jsonl")
    expected = truth.expected()
    assert ledger.balanced
    assert ledger.received == expected["received"]
    assert ledger.silver_total == expected["silver"]
    assert ledger.dlq == expected["dlq"]
    assert ledger.duplicates == expected["duplicates"]
