"""The gold tables: their specs and the SQL steps that build them (files under ``dags/sql``,
BigQuery dialect), staged, then published.

Core: this imports only the warehouse adapter. The quality gate between staging and publishing
sits a layer above (``quality.build.build_gold`` runs the three for one day; the DAGs run the
same steps as separate tasks). ``build_fact_shipments`` remains for callers that want that one
table, ungated.
"""

from __future__ import annotations

import datetime as dt

from logistics.gold.build import PARTITIONED, build_fact_shipments, publish, stage_dimensions, stage_partition
from logistics.gold.tables import DIMENSIONS, GOLD_TABLES, SQL_DIR, GoldTable, gold_table
from logistics.warehouse import Warehouse


def published_rows(warehouse: Warehouse, *, day: dt.date) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in GOLD_TABLES:
        where = f" WHERE {table.partition_column} = @day" if table.partition_column else ""
        rows = warehouse.query(f"SELECT COUNT(*) AS n FROM {table.name}{where}", {"day": day} if where else None)
        counts[table.name] = int(rows[0]["n"])
    return counts


__all__ = [
    "DIMENSIONS",
    "GOLD_TABLES",
    "PARTITIONED",
    "SQL_DIR",
    "GoldTable",
    "build_fact_shipments",
    "gold_table",
    "publish",
    "published_rows",
    "stage_dimensions",
    "stage_partition",
]
