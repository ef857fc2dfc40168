"""SQL is written once in BigQuery's dialect: every file must render for DuckDB and run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from logistics.settings import PROJECT_ROOT
from logistics.warehouse import SqlTranspileError, connect, prepare

SQL_FILES = sorted(p for d in ("dags/sql", "graphql_api/sql") for p in (PROJECT_ROOT / d).rglob("*.sql"))
DATASETS = (("clean", "clean"), ("curated", "curated"))


def test_there_are_sql_files() -> None:
    assert len(SQL_FILES) >= 2


# One sample value per parameter name used by any SQL file; a new name must be added here.
SAMPLE_PARAMS = {"day": dt.date(2024, 1, 15), "shipment_id": "SHP-1"}


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.name)
def test_every_sql_file_renders_and_runs_on_duckdb(path: Path, settings) -> None:
    with connect(settings) as wh:
        wh.ensure_tables()
        for statement in wh.render(path.read_text()).split(";\n"):
            assert "@" not in statement.split("*/")[-1]  # parameters became DuckDB's $name
        wh.execute(path.read_text(), SAMPLE_PARAMS)


def test_dataset_names_are_mapped_and_parameters_stay_bound() -> None:
    sql = "SELECT * FROM clean.shipment_events WHERE shipment_id = @id"
    assert prepare(sql, dialect="bigquery", datasets=(("clean", "dev_clean"),), project="p") == (
        "SELECT * FROM p.dev_clean.shipment_events WHERE shipment_id = @id"
    )
    assert "$id" in prepare(sql, dialect="duckdb", datasets=(("clean", "clean"),))


def test_bigquery_only_layout_clauses_are_dropped_for_duckdb() -> None:
    ddl = "CREATE TABLE curated.t (d DATE) PARTITION BY d CLUSTER BY d OPTIONS (description='x')"
    assert prepare(ddl, dialect="duckdb", datasets=DATASETS) == "CREATE TABLE curated.t (d DATE)"


def test_invalid_sql_is_a_clear_error() -> None:
    with pytest.raises(SqlTranspileError, match="not valid BigQuery SQL"):
        prepare("SELEC FROM WHERE (", dialect="duckdb", datasets=DATASETS)


def test_fact_shipments_runs_on_duckdb_and_is_idempotent(spine) -> None:
    from dags.gold import build_fact_shipments

    day = dt.date(2024, 1, 15)
    with connect(spine.settings) as wh:
        first = build_fact_shipments(wh, day=day)
        ordered = "SELECT * EXCEPT (built_at) FROM curated.fact_shipments ORDER BY facility_id, carrier_id"
        snapshot = wh.query(ordered)
        second = build_fact_shipments(wh, day=day)
        again = wh.query(ordered)
        totals = wh.query(
            "SELECT SUM(created_count) AS created, SUM(delivered_count) AS delivered FROM curated.fact_shipments"
        )[0]
    assert first == second > 0
    assert snapshot == again
    assert totals == {"created": len(spine.batch.shipments), "delivered": len(spine.batch.delivered)}
