"""marts_daily (06:00 UTC): build yesterday's gold behind the quality gate.

check_source_ready -> build_dimensions -> build_facts -> build_features -> quality_gate
-> publish -> notify. The build tasks write staging tables only; publish runs only if the
gate passed (default trigger rule), so a failing gate leaves published gold unchanged.
Trigger with ``{"day": "YYYY-MM-DD"}`` to (re)build a given day.
"""

from __future__ import annotations

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Param

from dags.ops import tasks
from dags.ops.defaults import DAG_DEFAULTS, task_defaults

with DAG(
    dag_id="marts_daily",
    schedule="0 6 * * *",
    params={"day": Param(None, type=["null", "string"], format="date", description="day to build (UTC)")},
    default_args=task_defaults(on_failure_callback=tasks.alert_on_failure),
    tags=["gold"],
    doc_md=__doc__,
    **DAG_DEFAULTS,
) as dag:
    check_source_ready = PythonOperator(task_id="check_source_ready", python_callable=tasks.check_source_ready)
    build_dimensions = PythonOperator(task_id="build_dimensions", python_callable=tasks.build_dimensions)
    build_facts = PythonOperator(task_id="build_facts", python_callable=tasks.build_facts)
    build_features = PythonOperator(task_id="build_features", python_callable=tasks.build_features)
    quality_gate = PythonOperator(task_id="quality_gate", python_callable=tasks.quality_gate)
    publish = PythonOperator(task_id="publish", python_callable=tasks.publish_gold)
    notify = PythonOperator(task_id="notify", python_callable=tasks.notify_published)

    check_source_ready >> build_dimensions >> build_facts >> build_features >> quality_gate >> publish >> notify
