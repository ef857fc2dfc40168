"""reconciliation (every 4 h): rebuild exactly the gold partitions that late silver events change.

Late events are those silver received since the last reconciliation; through the shipment,
delivery and facility keys they touch they reach partitions of other days too (an attempt
before a delivery completed the next day, a corrected promise, a facility change before later
features, carrier on-time rates over the next 30 days): ``dags/sql/ops/late_partitions.sql``,
and docs/architecture.md in prose. Each partition built before such an event arrived is
rebuilt, oldest first, through the same staging -> gate -> publish path; nothing else is
touched. Dimension-only changes (a driver, the carrier seed) republish the dimensions.
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
