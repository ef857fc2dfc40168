"""What the DAGs need besides gold SQL: shared DAG defaults, settings per task, SLA checks, alert notifiers."""
