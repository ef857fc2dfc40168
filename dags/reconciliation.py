"""reconciliation (every 4 h): rebuild exactly the gold partitions whose silver changed.

Each published partition carries a watermark (silver's newest ingest_time and event count
for that day when it was built). Late events raise one of them; those days are rebuilt
through the same staging -> gate -> publish path, and nothing else is touched.
"""

from __future__ import annotations

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from dags.ops import tasks
from dags.ops.defaults import DAG_DEFAULTS, task_defaults

with DAG(
    dag_id="reconciliation",
    schedule="0 */4 * * *",
    default_args=task_defaults(on_failure_callback=tasks.alert_on_failure),
    tags=["gold"],
    doc_md=__doc__,
    **DAG_DEFAULTS,
) as dag:
    find_late_partitions = PythonOperator(task_id="find_late_partitions", python_callable=tasks.find_late_partitions)
    rebuild_partitions = PythonOperator(task_id="rebuild_partitions", python_callable=tasks.rebuild_partitions)

    find_late_partitions >> rebuild_partitions
