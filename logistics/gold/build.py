"""Staging, then publish: how a gold build runs.

1. ``stage_dimensions`` and ``stage_partition`` run each table's staging SQL (its file; for an
   SCD2 dimension, then the versioning every dimension shares, ``logistics.gold.scd2``); they
   write only ``*__staging`` tables (and never touch published gold).
2. The quality gate validates the staged tables (``quality.gate``).
3. ``publish`` copies staging into the published tables in one transaction: a
   partition is replaced (delete + insert of that day), a dimension is swapped whole and
   its change log appended. Nothing reaches published gold unless step 2 passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from logistics.gold.scd2 import versions_sql
from logistics.gold.seeds import CARRIERS_CSV, load_carriers
from logistics.gold.tables import (
    DIMENSIONS,
    FACTS,
    FEATURES,
    GOLD_WATERMARKS,
    STAGING_SUFFIX,
    GoldTable,
    ensure_published_tables,
)
from logistics.warehouse import Warehouse, sql_file

PARTITIONED = (GOLD_WATERMARKS, *FACTS, *FEATURES)  # staged per day, in this order


def staging_sql(table: GoldTable) -> str:
    """The SQL that stages ``table`` (BigQuery dialect): its file, then for an SCD2 dimension its versions."""
    sql = sql_file(table.sql_path)
    if table.scd2 is None:
        return sql
    return f"{sql.rstrip()}\n\n{versions_sql(table)}"


def stage_dimensions(warehouse: Warehouse, *, carriers_csv: Path = CARRIERS_CSV) -> None:
    """Load the seeds and stage every SCD2 dimension (recomputed from its change log + silver)."""
    ensure_published_tables(warehouse)
    load_carriers(warehouse, path=carriers_csv)
    for table in DIMENSIONS:
        warehouse.execute(staging_sql(table))


def stage_partition(warehouse: Warehouse, *, day: dt.date, tables: Sequence[GoldTable] = PARTITIONED) -> None:
    """Stage ``day`` of each partitioned table (features read the staged facts and dimensions)."""
    for table in tables:
        warehouse.execute(staging_sql(table), {"day": day})


def publish_sql(tables: Sequence[GoldTable]) -> str:
    """One transaction that moves ``tables`` from staging to published (parameter ``@day``)."""
    statements = ["BEGIN TRANSACTION"]
    for table in tables:
        columns = ", ".join(table.columns)
        if table.partition_column is None:
            if table.change_log is not None:
                log_columns = ", ".join(table.change_log_columns)
                statements.append(
                    f"INSERT INTO {table.change_log} ({log_columns}) "
                    f"SELECT {log_columns} FROM {table.change_log}{STAGING_SUFFIX}"
                )
            statements.append(f"DELETE FROM {table.name} WHERE TRUE")
            statements.append(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {table.staging}")
        else:
            part = table.partition_column
            statements.append(f"DELETE FROM {table.name} WHERE {part} = @day")
            statements.append(
                f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {table.staging} WHERE {part} = @day"
            )
    statements.append("COMMIT TRANSACTION")
    return ";\n".join(statements)


def publish(warehouse: Warehouse, *, tables: Sequence[GoldTable], day: dt.date | None = None) -> None:
    """Publish staged ``tables`` atomically; ``day`` is required when any of them is partitioned."""
    if day is None and any(t.partition_column for t in tables):
        raise ValueError("publishing a partitioned table needs the day")
    warehouse.execute(publish_sql(tables), {"day": day} if day else None)


def build_fact_shipments(warehouse: Warehouse, *, day: dt.date) -> int:
    """Rebuild ``curated.fact_shipments`` for ``day`` alone, ungated; return its row count for that day.

    Kept for callers that only want this table; ``quality.build.build_gold`` builds every gold
    table behind the quality gate.
    """
    from logistics.gold.tables import FACT_SHIPMENTS

    stage_partition(warehouse, day=day, tables=(FACT_SHIPMENTS,))
    publish(warehouse, tables=(FACT_SHIPMENTS,), day=day)
    rows = warehouse.query("SELECT COUNT(*) AS n FROM curated.fact_shipments WHERE activity_date = @day", {"day": day})
    return int(rows[0]["n"])
