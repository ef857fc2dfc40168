"""What the DAGs need besides gold SQL: settings per task, SLA checks, alert notifiers."""
