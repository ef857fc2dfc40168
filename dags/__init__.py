"""Airflow DAGs and the gold-layer builds they run (SQL in BigQuery's dialect under ``sql/``)."""
