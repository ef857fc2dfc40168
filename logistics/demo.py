"""The platform tour behind ``make demo``: each step a function, so the end-to-end test runs the same code.

generate -> ingest (file, or Kafka / Pub/Sub through a real local broker) -> bronze, silver,
DLQ -> gold through the real ``marts_daily`` DAG (stage -> Great Expectations gate ->
publish) -> the API on uvicorn, asked over HTTP.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import orjson

from logistics.local.api import ApiServer
from logistics.settings import Settings
from pipeline.ledger import Ledger
from pipeline.run import run_pipeline
from pipeline.sources.simulator import GroundTruth, SimulationConfig

DemoSource = Literal["file", "kafka", "pubsub"]

# The demo key of config/local.yaml (read scope): what a frontend on this machine would send.
DEMO_API_KEY = "local-dev-key"

EXAMPLE_QUERIES: dict[str, str] = {
    "one shipment's journey": """{
  shipment(id: "SHP-0001") {
    id status onTime totalTransitHours
    carrier { id name }
    timeline { time eventType facilityId }
  }
}""",
    "on-time delivery by carrier (gold)": """{
  deliveryPerformance(groupBy: CARRIER) {
    key deliveries onTimeDeliveries onTimePercentage averageAttempts source
  }
}""",
    "delivered shipments, first page": """{
  shipments(first: 3, filter: {status: DELIVERED}) {
    edges { node { id expectedDelivery actualDelivery currentFacility { name region } } }
    pageInfo { hasNextPage endCursor }
  }
}""",
}

LAYER_TABLES = (
    "clean.shipment_events",
    "clean.delivery_events",
    "clean.facility_events",
    "clean.driver_events",
    "clean.dlq_events",
    "clean.event_counts_5m",
    "curated.dim_facility",
    "curated.dim_carrier",
    "curated.dim_driver",
    "curated.fact_shipments",
    "curated.fact_deliveries",
    "features.ml_delivery_features",
)


def demo_dir(settings: Settings) -> Path:
    """Logs of everything the demo starts (broker, emulator, API, Airflow)."""
    return settings.storage.resolved_data_dir() / "demo"


def truth_path(settings: Settings) -> Path:
    """The simulator's ground truth, beside its events."""
    return settings.storage.resolved_data_dir() / "input" / "truth.json"


def live_truth_path(settings: Settings) -> Path:
    """The ground truth of the live feed (the demo's second step), beside its events."""
    return settings.storage.resolved_data_dir() / "input" / "live-truth.json"


def gold_days(truth: GroundTruth) -> list[dt.date]:
    """Every day a delivery ended on (fact_deliveries' partitions): marts_daily builds each."""
    days = {day for carrier in truth.carriers.values() for day in carrier.by_day} | set(truth.delivered_per_day)
    return sorted(dt.date.fromisoformat(day) for day in days)


# --- ingest ----------------------------------------------------------------------------------


def ingest(settings: Settings, *, source: DemoSource, input_path: Path) -> Ledger:
    """Run the pipeline over ``input_path``: directly (file source) or published to a local broker and drained."""
    if source == "file":
        return run_pipeline(settings=settings, input_pattern=str(input_path))
    with local_broker(settings, broker=source) as broker_settings:
        publish_file(broker_settings, broker=source, path=input_path)
        return drain_broker(broker_settings, broker=source)


@contextmanager
def local_broker(settings: Settings, *, broker: Literal["kafka", "pubsub"]) -> Iterator[Settings]:
    """Start Tansu or the Pub/Sub emulator; yield settings (and an environment) pointing at it."""
    from logistics.local import kafka_broker, pubsub_emulator

    if broker == "kafka":
        with kafka_broker(log_dir=demo_dir(settings), topics=settings.kafka.topics) as kafka:
            update: dict[str, Any] = {
                "kafka": settings.kafka.model_copy(update={"bootstrap_servers": kafka.bootstrap_servers})
            }
            with _environment(LOGISTICS_KAFKA__BOOTSTRAP_SERVERS=kafka.bootstrap_servers):
                yield settings.model_copy(update=update)
    else:
        with pubsub_emulator(log_dir=demo_dir(settings)) as emulator:
            update = {"gcp": settings.gcp.model_copy(update={"project_id": emulator.project})}
            with _environment(LOGISTICS_GCP__PROJECT_ID=emulator.project):
                yield settings.model_copy(update=update)


def publish_file(settings: Settings, *, broker: Literal["kafka", "pubsub"], path: Path) -> None:
    """``logistics publish`` exactly as a user runs it (its own process, the environment says where)."""
    command = [sys.executable, "-m", "logistics.cli.main", "publish", str(path), "--to", broker]
    if broker == "pubsub":
        command.append("--create")  # the emulator starts empty: topics and the pipeline's subscriptions
    log = demo_dir(settings) / f"publish-{broker}.log"
    with log.open("wb") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"publishing to {broker} failed: {log.read_text(errors='replace')[-2000:]}")


def drain_broker(settings: Settings, *, broker: Literal["kafka", "pubsub"]) -> Ledger:
    """Micro-batches until the broker has been quiet for a few seconds; the summed ledger."""
    from pipeline.sources.brokers import open_batch_source
    from pipeline.streaming import drain

    source, _ = open_batch_source(broker, settings=settings)
    try:
        stream = drain(source, settings=settings, timeout_s=10.0, idle_batches_to_stop=1)
    finally:
        source.close()
    ledger = stream.total()
    if not stream.balanced:
        raise RuntimeError(f"the {broker} drain does not balance: {ledger}")
    return ledger


# --- live ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveRun:
    published: int
    rate: float  # messages/s the feed was published at
    final: Any  # pipeline.progress.Snapshot once the stream stopped
    truth: GroundTruth


def live_config(backfilled: SimulationConfig, *, shipments: int, now: dt.datetime) -> SimulationConfig:
    """The same network's next hours: new shipments numbered after the backfilled ones, booked
    from a few hours ago on (so their events are current), the network not onboarded again."""
    return backfilled.model_copy(
        update={
            "seed": backfilled.seed + 1,
            "shipments": shipments,
            "start": now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=6),
            "shipment_offset": backfilled.shipment_offset + backfilled.shipments,
            "onboard": False,
            "capacity_changes_per_day": 0.0,
        }
    )


def stream_live(settings: Settings, *, config: SimulationConfig, rate: float) -> LiveRun:
    """Publish a live feed to the Pub/Sub emulator at ``rate`` messages/s while the unbounded
    pipeline runs on the local streaming runner into the same warehouse; stop once it is all in."""
    import time

    from pipeline.publish import publish_lines
    from pipeline.sources.simulator import simulate, write_jsonl
    from pipeline.unbounded import ensure_topics, start_unbounded

    feed = settings.storage.resolved_data_dir() / "input" / "live.jsonl"
    truth = write_jsonl(simulate(config), feed, truth_path=live_truth_path(settings))
    with local_broker(settings, broker="pubsub") as live:
        ensure_topics(live)
        run = start_unbounded(settings=live)
        try:
            with feed.open("rb") as lines:
                sent = publish_lines((line.rstrip(b"\n") for line in lines if line.strip()), to="pubsub", rate=rate)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                now = run.progress()
                if now.received >= truth.records and now.accounted == now.received:
                    break
                time.sleep(0.5)
        finally:
            final = run.stop(drain=True)
    return LiveRun(published=sum(sent.values()), rate=rate, final=final, truth=truth)


# --- gold ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldRun:
    day: dt.date
    state: str
    task_states: dict[str, str]


def build_gold_with_airflow(settings: Settings, *, days: list[dt.date]) -> list[GoldRun]:
    """``marts_daily`` for each day under real Airflow (SQLite, in this process; its chatter to a log file).

    Airflow configures itself on first import, so its home (``<data_dir>/airflow``) is set
    before anything imports it.
    """
    from logistics.local.airflow import airflow_environment

    data_dir = settings.storage.resolved_data_dir()
    env = {"LOGISTICS_STORAGE__DATA_DIR": str(data_dir)}  # the DAG tasks build their settings from it
    if "airflow" not in sys.modules:  # else it is configured already (e.g. a test session's Airflow)
        env |= airflow_environment(data_dir / "airflow")
    with _environment(**env):
        return _run_marts_daily(settings, days=days)


def _run_marts_daily(settings: Settings, *, days: list[dt.date]) -> list[GoldRun]:
    from logistics.local.airflow import load_dags, run_dag

    runs: list[GoldRun] = []
    with _output_to(demo_dir(settings) / "airflow.log"):
        dag = load_dags()["marts_daily"]
        for day in days:
            # Its 06:00 run the next morning builds the day, as the schedule would.
            logical = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6), tzinfo=dt.UTC)
            result = run_dag(dag, logical_date=logical, conf={"day": day.isoformat()})
            runs.append(GoldRun(day=day, state=result.state, task_states=result.task_states))
    return runs


@dataclass(frozen=True)
class GateOutcome:
    table: str
    day: str
    success: bool
    expectations: int
    report: Path


def gate_outcomes(settings: Settings, *, since: dt.datetime) -> list[GateOutcome]:
    """The latest gate per table and day that the DAG runs wrote since ``since``: GX's stored
    validation results (``validations/<table>/<day>.<staged|published>/<time>/<table>.json``), each
    with its Data Docs page (dimensions are rebuilt, and gated, by every daily run)."""
    from quality.gate import results_dir_for

    root = results_dir_for(settings)
    latest: dict[tuple[str, str], GateOutcome] = {}
    for results in sorted(root.glob("validations/*/*/*/*.json"), key=lambda p: p.parent.name):  # by run time
        if dt.datetime.fromtimestamp(results.stat().st_mtime, dt.UTC) < since:
            continue
        body = orjson.loads(results.read_bytes())
        table, day = results.parent.parent.parent.name, results.parent.parent.name.split(".")[0]
        latest[(table, day)] = GateOutcome(
            table=table,
            day=day,
            success=bool(body["success"]),
            expectations=len(body["results"]),
            report=(root / "data_docs" / results.relative_to(root)).with_suffix(".html"),
        )
    return list(latest.values())


def layer_counts(settings: Settings) -> dict[str, int]:
    from logistics.warehouse import connect

    with connect(settings, read_only=True) as warehouse:
        return {t: int(warehouse.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]) for t in LAYER_TABLES}


# --- API -------------------------------------------------------------------------------------


def ask(api: ApiServer, query: str, *, api_key: str = DEMO_API_KEY) -> dict[str, Any]:
    """POST one GraphQL query to the running server, as a frontend would."""
    response = httpx.post(api.graphql, json={"query": query}, headers={"X-API-Key": api_key}, timeout=30)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


# --- plumbing --------------------------------------------------------------------------------


@contextmanager
def _environment(**variables: str) -> Iterator[None]:
    """Set variables for this process and its children (the publisher, DAG tasks) until the block ends."""
    from logistics.settings import get_settings

    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


@contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout/stderr file descriptors to ``log`` (Airflow logs to them directly)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("ab") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
