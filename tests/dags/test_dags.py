"""Every DAG under real Airflow (dag.test on SQLite, one process), against a real DuckDB warehouse."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from logistics.gold import DIMENSIONS, PARTITIONED, stage_dimensions, stage_partition
from logistics.settings import PROJECT_ROOT
from logistics.warehouse import connect

DAY = dt.date(2024, 1, 15)
NEXT_DAY = dt.date(2024, 1, 16)


def _at(day: dt.date, minute: int) -> dt.datetime:
    """A marts_daily logical date that builds ``day`` (runs at 06:00 the next day; minute keeps runs distinct)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6, minute), tzinfo=dt.UTC)


def _partition(settings, table: str, column: str, day: dt.date) -> list[dict[str, Any]]:
    with connect(settings, read_only=True) as wh:
        rows = wh.query(f"SELECT * FROM {table} WHERE {column} = @day", {"day": day})
    return sorted(
        ({k: v for k, v in r.items() if k != "built_at"} for r in rows), key=lambda r: json.dumps(r, default=str)
    )


def test_dagbag_imports_every_dag_without_errors() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    assert set(bag.dags) == {"marts_daily", "reconciliation", "sla_monitoring"}
    marts = bag.dags["marts_daily"]
    assert [t.task_id for t in marts.topological_sort()] == [
        "check_source_ready",
        "build_dimensions",
        "build_facts",
        "build_features",
        "quality_gate",
        "publish",
        "notify",
    ]


def test_marts_daily_builds_gates_and_publishes(airflow_dags, small_world, task_env, run_dag) -> None:
    states = run_dag(airflow_dags["marts_daily"], logical_date=_at(DAY, 0))
    assert set(states.values()) == {"success"}, states
    deliveries = _partition(task_env, "curated.fact_deliveries", "delivery_date", DAY)
    assert [(r["delivery_id"], r["on_time_flag"], r["attempt_count"]) for r in deliveries] == [
        ("DLV-0001", True, 1),
        ("DLV-0002", False, 1),  # delivered 20:00, promised 19:00
    ]
    features = _partition(task_env, "features.ml_delivery_features", "delivery_date", DAY)
    assert [r["delivery_id"] for r in features] == ["DLV-0001", "DLV-0002"]
    assert all(r["feature_time"] <= r["label_time"] for r in features)
    # GX Data Docs: one page per gate, listed in the site's index
    docs = task_env.storage.data_dir / "quality" / "data_docs"
    pages = list((docs / "validations").rglob("*.html"))
    assert {p.parents[2].name for p in pages} == {
        "dim_facility",
        "dim_carrier",
        "dim_driver",
        "fact_deliveries",
        "fact_shipments",
        "ml_delivery_features",
    }
    index = (docs / "index.html").read_text()
    assert all(str(p.relative_to(docs)) in index for p in pages)


def test_failing_gate_leaves_published_gold_unchanged(
    airflow_dags, small_world, task_env, run_dag, webhook, monkeypatch
) -> None:
    url, received = webhook
    marts = airflow_dags["marts_daily"]
    assert run_dag(marts, logical_date=_at(DAY, 1))["dag_run"] == "success"
    before = _partition(task_env, "curated.fact_deliveries", "delivery_date", DAY)
    # new silver for the day, so a publish would change gold ...
    small_world.shipment_with_delivery(
        9,
        created=small_world.ts("2024-01-15 05:00"),
        delivered=small_world.ts("2024-01-15 12:00"),
        promised=small_world.ts("2024-01-16 05:00"),
    )
    # ... staged as the build tasks do, then corrupted: a duplicate delivery key
    with connect(task_env) as wh:
        stage_dimensions(wh)
        stage_partition(wh, day=DAY)
        wh.execute(
            "INSERT INTO curated.fact_deliveries__staging "
            "SELECT * FROM curated.fact_deliveries__staging WHERE delivery_id = 'DLV-0001'"
        )
    # the build tasks are marked done (they would re-stage cleanly); the gate sees the corrupt staging
    monkeypatch.setenv("LOGISTICS_MARTS__NOTIFIER", "slack")
    monkeypatch.setenv("LOGISTICS_MARTS__SLACK_WEBHOOK_URL", url)
    states = run_dag(marts, logical_date=_at(DAY, 2), mark_success="check_source_ready|build_.*")
    assert states["quality_gate"] == "failed"
    assert states["publish"] == "upstream_failed"
    assert states["dag_run"] == "failed"
    assert _partition(task_env, "curated.fact_deliveries", "delivery_date", DAY) == before
    # the alert names the failing expectation, a failing row's key, and links the Data Docs page
    (alert,) = [r["json"]["text"] for r in received if "quality_gate failed" in r["json"]["text"]]
    assert "expect_column_values_to_be_unique(delivery_id): 2 rows, e.g. {delivery_id=DLV-0001}" in alert
    assert "quality_reports: ['file://" in alert and "data_docs/validations/fact_deliveries/2024-01-15.staged/" in alert


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"path": self.path, "json": json.loads(body)})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000", _Recorder.received
    server.shutdown()
    server.server_close()


def test_sla_monitoring_alerts_through_slack_on_breach(
    airflow_dags, small_world, task_env, run_dag, webhook, monkeypatch
) -> None:
    url, received = webhook
    monkeypatch.setenv("LOGISTICS_MARTS__NOTIFIER", "slack")
    monkeypatch.setenv("LOGISTICS_MARTS__SLACK_WEBHOOK_URL", url)
    sla = airflow_dags["sla_monitoring"]
    # a day after the newest event: silver is stale, and gold was never published
    states = run_dag(sla, logical_date=dt.datetime(2024, 1, 17, 16, 0, tzinfo=dt.UTC))
    assert states["check_sla"] == "success"
    assert len(received) == 1
    text = received[0]["json"]["text"]
    assert received[0]["path"] == "/hooks/T000/B000"
    assert "freshness.clean.delivery_events_minutes" in text and "freshness.gold_hours: no data" in text

    # generous thresholds: the same state is within SLA, and nothing is sent
    for key in ("PIPELINE_LAG_MINUTES", "SILVER_STALENESS_MINUTES"):
        monkeypatch.setenv(f"LOGISTICS_MARTS__SLA_MAX_{key}", "1e9")
    monkeypatch.setenv("LOGISTICS_MARTS__SLA_MAX_GOLD_STALENESS_HOURS", "1e9")
    monkeypatch.setenv("LOGISTICS_MARTS__SLA_MIN_ON_TIME_RATE", "0")
    with connect(task_env) as wh:  # gold exists now (published rows make the staleness measurable)
        stage_dimensions(wh)
        stage_partition(wh, day=DAY)
        from logistics.gold import publish

        publish(wh, tables=(*DIMENSIONS, *PARTITIONED), day=DAY)
    states = run_dag(sla, logical_date=dt.datetime(2024, 1, 17, 16, 15, tzinfo=dt.UTC))
    assert states["check_sla"] == "success"
    assert len(received) == 1
