"""sla_monitoring (every 15 min): pipeline lag, DLQ rate, freshness per table, on-time rate.

Thresholds come from ``marts.sla_*`` settings; a breach goes to the configured notifier
(log by default, PagerDuty Events v2 or a Slack webhook in the cloud).
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from dags.ops import tasks

with DAG(
    dag_id="sla_monitoring",
    schedule="*/15 * * * *",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 0},
    tags=["monitoring"],
    doc_md=__doc__,
) as dag:
    check_sla = PythonOperator(task_id="check_sla", python_callable=tasks.check_sla)
