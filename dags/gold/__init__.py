"""Gold builds: SQL files under ``dags/sql`` (BigQuery dialect) staged, gated, then published.

``build_gold`` is the whole thing for one day; the DAGs run the same steps as separate
tasks. ``build_fact_shipments`` remains for callers that want that one table, ungated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dags.gold.build import PARTITIONED, build_fact_shipments, publish, stage_dimensions, stage_partition
from dags.gold.tables import DIMENSIONS, GOLD_TABLES, SQL_DIR, GoldTable, gold_table
from logistics.warehouse import Warehouse

if TYPE_CHECKING:
    from quality.gate import GateResult


@dataclass(frozen=True)
class GoldBuild:
    day: dt.date
    gates: tuple[GateResult, ...]
    rows: dict[str, int]  # published rows per table (for the day, or whole for a dimension)


def build_gold(warehouse: Warehouse, *, day: dt.date, results_dir: Path) -> GoldBuild:
    """Stage every gold table for ``day``, gate the staged data, and publish it if (and only if) it passes.

    Raises ``quality.gate.QualityGateFailed`` when any suite fails; published gold is then unchanged.
    """
    from quality.gate import gate_all

    stage_dimensions(warehouse)
    stage_partition(warehouse, day=day)
    gates = gate_all(warehouse, tables=GOLD_TABLES, day=day, results_dir=results_dir)
    publish(warehouse, tables=(*DIMENSIONS, *PARTITIONED), day=day)
    return GoldBuild(day=day, gates=tuple(gates), rows=published_rows(warehouse, day=day))


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
    "GoldBuild",
    "GoldTable",
    "build_fact_shipments",
    "build_gold",
    "gold_table",
    "publish",
    "published_rows",
    "stage_dimensions",
    "stage_partition",
]
