"""Task callables shared by the DAG files (kept out of them so DAG parsing stays cheap).

Each callable opens the warehouse for its own work and closes it before returning.
Return values are small JSON-able summaries (XCom).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from airflow.sdk.exceptions import AirflowSkipException

from dags.ops.notifiers import Alert, LogNotifier, Notifier, PagerDutyNotifier, notifier_from
from dags.ops.runtime import build_day, run_time, task_settings, warehouse
from dags.ops.sla import alert_for, evaluate, measure
from logistics.gold.build import PARTITIONED, publish, stage_dimensions, stage_partition, staging_sql
from logistics.gold.tables import (
    DIMENSIONS,
    FACTS,
    FEATURES,
    GOLD_TABLES,
    GOLD_WATERMARKS,
    LATE_PARTITIONS_SQL,
    SILVER_CENSUS,
    STAGING_SUFFIX,
    ensure_published_tables,
)
from logistics.warehouse import Warehouse, sql_file

log = logging.getLogger(__name__)

_SILVER_EVENTS_OF_DAY = """
SELECT COUNT(*) AS n FROM (
  SELECT event_time FROM clean.shipment_events UNION ALL SELECT event_time FROM clean.delivery_events
) AS e
WHERE e.event_time >= TIMESTAMP(@day) AND e.event_time < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY))
"""


# --- marts_daily ---------------------------------------------------------------------------


def check_source_ready(**context: Any) -> str:
    day = build_day(context)
    with warehouse() as wh:
        wh.ensure_tables()
        events = int(wh.query(_SILVER_EVENTS_OF_DAY, {"day": day})[0]["n"])
    if events == 0:
        raise AirflowSkipException(f"silver has no shipment or delivery events for {day}: nothing to build")
    log.info("silver has %d events for %s", events, day)
    return day.isoformat()


def build_dimensions(**context: Any) -> None:
    with warehouse() as wh:
        stage_dimensions(wh)


def build_facts(**context: Any) -> None:
    with warehouse() as wh:
        stage_partition(wh, day=build_day(context), tables=(GOLD_WATERMARKS, *FACTS))


def build_features(**context: Any) -> None:
    with warehouse() as wh:
        stage_partition(wh, day=build_day(context), tables=FEATURES)


def quality_gate(**context: Any) -> list[str]:
    """Validate every staged table; fail the task (and so skip publish) on any unmet expectation."""
    from quality.gate import gate_all, results_dir_for

    results_dir = results_dir_for(task_settings())
    with warehouse() as wh:
        results = gate_all(wh, tables=GOLD_TABLES, day=build_day(context), results_dir=results_dir)
    for result in results:
        log.info("quality report (Data Docs): %s", result.report_path)
    return [r.summary() for r in results]


def publish_gold(**context: Any) -> None:
    with warehouse() as wh:
        publish(wh, tables=(*DIMENSIONS, *PARTITIONED), day=build_day(context))


def notify_published(**context: Any) -> None:
    day = build_day(context)
    _completion_notifier().send(
        Alert(summary=f"gold published for {day}", severity="info", dedup_key=f"marts_daily:{day}")
    )


# --- reconciliation ------------------------------------------------------------------------


def find_late_partitions(**context: Any) -> list[str]:
    """The published partitions late silver events change (``late_partitions.sql``); stages the census
    of silver that ``rebuild_partitions`` publishes once they are rebuilt."""
    grace = task_settings().marts.reconciliation_ingest_grace_minutes
    with warehouse() as wh:
        wh.ensure_tables()
        ensure_published_tables(wh)
        # the census first: an event loaded between the two statements is then looked at again
        # by the next run, never counted as reconciled without having been looked at
        wh.execute(staging_sql(SILVER_CENSUS))
        late = wh.query(sql_file(LATE_PARTITIONS_SQL), {"grace_minutes": grace})
    for row in late:
        log.info(
            "late data for gold partition %s (built from silver ingested up to %s): %s",
            row["partition_date"],
            row["built_max_ingest_time"],
            row["reasons"],
        )
    return [row["partition_date"].isoformat() for row in late]


def rebuild_partitions(**context: Any) -> list[str]:
    """Rebuild, gate and publish each late partition, oldest first (features read the facts of the
    days before); republish the dimensions when they alone changed. Only when every rebuild passed
    is the census of silver published: a failed one is found again by the next run."""
    from quality.gate import QualityGateFailed, gate_all, results_dir_for

    days = sorted(dt.date.fromisoformat(d) for d in context["ti"].xcom_pull(task_ids="find_late_partitions") or [])
    results_dir = results_dir_for(task_settings())
    done: list[str] = []
    failures: list[QualityGateFailed] = []
    for day in days:
        with warehouse() as wh:  # one short write session per partition
            stage_dimensions(wh)
            stage_partition(wh, day=day)
            try:
                gate_all(wh, tables=GOLD_TABLES, day=day, results_dir=results_dir)
            except QualityGateFailed as exc:
                failures.append(exc)
                continue
            publish(wh, tables=(*DIMENSIONS, *PARTITIONED), day=day)
        done.append(day.isoformat())
        log.info("rebuilt gold partition %s", day)
    if failures:
        raise QualityGateFailed(
            "; ".join(str(f) for f in failures), reports=tuple(r for f in failures for r in f.reports)
        )
    with warehouse() as wh:
        if not days:  # a dimension-only change: the dimensions are republished behind their gates
            stage_dimensions(wh)
            if pending_dimension_changes(wh):
                # a dimension is gated whole: the day only names the run
                gate_all(wh, tables=DIMENSIONS, day=run_time(context).date(), results_dir=results_dir)
                publish(wh, tables=DIMENSIONS)
                log.info("republished the dimensions (changes without a late partition)")
        publish(wh, tables=(SILVER_CENSUS,))
    return done


def pending_dimension_changes(wh: Warehouse) -> int:
    """Changes staged for the dimensions' logs (after ``stage_dimensions``) that published gold lacks."""
    return sum(
        int(wh.query(f"SELECT COUNT(*) AS n FROM {table.change_log}{STAGING_SUFFIX}")[0]["n"])
        for table in DIMENSIONS
        if table.change_log
    )


# --- sla_monitoring ------------------------------------------------------------------------


def check_sla(**context: Any) -> dict[str, Any]:
    settings = task_settings()
    with warehouse() as wh:
        wh.ensure_tables()
        metrics = measure(wh, now=run_time(context), settings=settings.marts)
    breaches = evaluate(metrics, settings.marts)
    if breaches:
        notifier_from(settings.marts).send(alert_for(breaches, metrics=metrics))
    log.info("SLA metrics %s; breaches: %s", metrics.as_dict(), [b.describe() for b in breaches] or "none")
    return {"metrics": metrics.as_dict(), "breaches": [b.describe() for b in breaches]}


# --- shared --------------------------------------------------------------------------------


def _completion_notifier() -> Notifier:
    """Completion notes go to the configured channel, except PagerDuty (it pages people)."""
    notifier = notifier_from(task_settings().marts)
    return LogNotifier() if isinstance(notifier, PagerDutyNotifier) else notifier


def alert_on_failure(context: Any) -> None:
    """Task failure callback: the configured notifier hears about any failed gold task."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    error = context.get("exception")
    details: dict[str, Any] = {"run_id": str(context.get("run_id"))}
    reports = getattr(error, "reports", ())  # a failed quality gate: its Data Docs pages
    if reports:
        details["quality_reports"] = [f"file://{path}" for path in reports]
    notifier_from(task_settings().marts).send(
        Alert(
            summary=f"{dag_id}.{task_id} failed: {error}",
            severity="error",
            dedup_key=f"{dag_id}:{task_id}",
            details=details,
        )
    )
