"""SQL is written once in BigQuery's dialect: every file must render for DuckDB and run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from logistics.settings import PROJECT_ROOT
from logistics.warehouse import SQL_DIRS, SqlTranspileError, connect, prepare

SQL_FILES = sorted(p for d in SQL_DIRS for p in (PROJECT_ROOT / d).rglob("*.sql"))
DATASETS = (("clean", "clean"), ("curated", "curated"))


def test_there_are_sql_files() -> None:
    assert len(SQL_FILES) >= 2


# One sample value per parameter name used by any SQL file; a new name must be added here.
SAMPLE_PARAMS = {
    "day": dt.date(2024, 1, 15),
    "shipment_id": "SHP-1",
    "now": dt.datetime(2024, 1, 16, 6, tzinfo=dt.UTC),
    "dlq_window_start": dt.datetime(2024, 1, 16, 5, tzinfo=dt.UTC),
    "grace_minutes": 0,  # dags/sql/ops/late_partitions.sql
    # graphql_api/sql
    "after_id": "SHP-0001",
    "after_time": dt.datetime(2024, 1, 15, tzinfo=dt.UTC),
    "carrier_id": "CAR-ACME",
    "carrier_ids": ["CAR-ACME"],
    "created_from": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    "created_to": dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
    "driver_ids": ["DRV-001"],
    "facility_id": "FAC-CHI",
    "facility_ids": ["FAC-CHI"],
    "group_by": "day",
    "page_limit": 10,
    "shipment_ids": ["SHP-0001"],
    "status": "DELIVERED",
    "window_end": dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
    "window_start": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
}


@pytest.fixture(scope="module")
def staged_warehouse(tmp_path_factory: pytest.TempPathFactory):
    """Gold files read each other's staging tables: one warehouse with everything staged, in build order."""
    from logistics.gold import stage_dimensions, stage_partition
    from logistics.settings import Settings, StorageSettings

    settings = Settings(storage=StorageSettings(data_dir=tmp_path_factory.mktemp("sql") / "data"))
    with connect(settings) as wh:
        wh.ensure_tables()
        stage_dimensions(wh)
        stage_partition(wh, day=SAMPLE_PARAMS["day"])
    return settings


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sql_file_renders_and_runs_on_duckdb(path: Path, staged_warehouse) -> None:
    with connect(staged_warehouse) as wh:
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


def test_fact_shipments_runs_on_duckdb_and_is_idempotent(spine, warehouse_copy) -> None:
    from logistics.gold import build_fact_shipments

    day = dt.date(2024, 1, 15)
    with connect(warehouse_copy) as wh:
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


def test_renames_point_a_query_at_another_table() -> None:
    sql = "SELECT f.x FROM curated.fact_deliveries AS f JOIN clean.delivery_events AS e ON TRUE"
    rendered = prepare(
        sql,
        dialect="duckdb",
        datasets=(("clean", "dev_clean"), ("curated", "dev_curated")),
        renames=(("curated.fact_deliveries", "curated.fact_deliveries__staging"),),
    )
    assert rendered == (
        "SELECT f.x FROM dev_curated.fact_deliveries__staging AS f JOIN dev_clean.delivery_events AS e ON TRUE"
    )


def test_staged_gold_publishes_atomically_per_partition(spine, warehouse_copy) -> None:
    """Publishing replaces exactly the day's partition; another day's rows stay as they were."""
    from logistics.gold import DIMENSIONS, PARTITIONED, publish, stage_dimensions, stage_partition

    with connect(warehouse_copy) as wh:
        stage_dimensions(wh)
        for day in (dt.date(2024, 1, 15), dt.date(2024, 1, 16)):
            stage_partition(wh, day=day)
            publish(wh, tables=(*DIMENSIONS, *PARTITIONED), day=day)
        count = "SELECT delivery_date, COUNT(*) AS n FROM curated.fact_deliveries GROUP BY 1 ORDER BY 1"
        before = wh.query(count)
        stage_partition(wh, day=dt.date(2024, 1, 15))
        wh.execute("DELETE FROM curated.fact_deliveries__staging WHERE TRUE")  # an empty rebuild of the 15th
        publish(wh, tables=PARTITIONED, day=dt.date(2024, 1, 15))
        after = wh.query(count)
    assert sum(r["n"] for r in before) == len(spine.batch.delivered)
    assert after == [r for r in before if r["delivery_date"] != dt.date(2024, 1, 15)]


def test_membership_in_a_filter_becomes_list_contains_and_keeps_its_rows(settings) -> None:
    """``IN UNNEST`` filters render as one list test; under NOT or in a projection the exact CASE stays."""
    sql = """
    SELECT id, id IN UNNEST(@ids) AS member
    FROM UNNEST(['a', 'b', CAST(NULL AS STRING)]) AS id
    WHERE (id IN UNNEST(@ids) OR id = 'z') AND NOT id IN UNNEST(@excluded)
    """
    rendered = prepare(sql, dialect="duckdb", datasets=DATASETS)
    where = rendered.split(" WHERE ", 1)[1]
    assert where.startswith("(ARRAY_CONTAINS($ids, id) OR id = 'z') AND NOT CASE")
    assert "CASE" in rendered.split(" FROM ", 1)[0]  # the projection keeps three-valued logic
    with connect(settings) as wh:
        for ids, excluded, expected in [
            (["a", "b"], ["b"], [("a", True)]),
            (["a", None], [], [("a", True)]),  # NULL in the list: still only 'a' passes
            ([], ["a"], []),
        ]:
            rows = wh.query(sql, {"ids": ids, "excluded": excluded})
            assert [(r["id"], r["member"]) for r in rows] == expected


def test_silver_is_indexed_by_its_lookup_columns(spine) -> None:
    """DuckDB has no clustering: the registry's lookup_by columns are indexed, and the timeline read uses them."""
    from contracts.generated.catalog import FAMILIES
    from graphql_api.queries import SQL

    with connect(spine.settings, read_only=True) as wh:
        timeline = wh.render(SQL.shipment_events)
    con = duckdb.connect(str(spine.settings.storage.duckdb_path), read_only=True)
    try:
        indexed = {(table, sql.rsplit("(", 1)[1].rstrip(");")) for table, sql in con.execute(INDEXES).fetchall()}
        plan = con.execute("EXPLAIN ANALYZE " + timeline, {"shipment_ids": ["SHP-0001"]}).fetchall()[0][1]
    finally:
        con.close()
    assert indexed >= {(f.silver_table, column) for f in FAMILIES.values() for column in f.lookup_by}
    assert plan.count("Index Scan") == 2  # both families, neither scanned whole


INDEXES = "SELECT table_name, sql FROM duckdb_indexes()"
