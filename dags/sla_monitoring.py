"""sla_monitoring (every 15 min): pipeline lag, DLQ rate, freshness per table, on-time rate.

Thresholds come from ``marts.sla_*`` settings; a breach goes to the configured notifier
(log by default, PagerDuty Events v2 or a Slack webhook in the cloud).
"""

from __future__ import annotations

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from dags.ops import tasks
from dags.ops.defaults import DAG_DEFAULTS, task_defaults

with DAG(
    dag_id="sla_monitoring",
    schedule="*/15 * * * *",
    # a breach is this DAG's alert; alert_on_failure is for the gold builds' tasks
    default_args=task_defaults(on_failure_callback=None),
    tags=["monitoring"],
    doc_md=__doc__,
    **DAG_DEFAULTS,
) as dag:
    check_sla = PythonOperator(task_id="check_sla", python_callable=tasks.check_sla)
