"""Gold builds: SQL files under ``dags/sql`` (BigQuery dialect) staged, gated, then published.

``build_gold`` is the whole thing for one day; the DAGs run the same steps as separate
tasks. ``build_fact_shipments`` remains for callers that want that one table, ungated.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
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
    # wall seconds per step, in run order: "stage dimensions", "stage <table>", "gate <table>", "publish"
    seconds: dict[str, float] = field(default_factory=dict)


def build_gold(warehouse: Warehouse, *, day: dt.date, results_dir: Path) -> GoldBuild:
    """Stage every gold table for ``day``, gate the staged data, and publish it if (and only if) it passes.

    Raises ``quality.gate.QualityGateFailed`` when any suite fails; published gold is then unchanged.
    """
    from quality.gate import gate_all

    seconds: dict[str, float] = {}
    started = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal started
        now = time.perf_counter()
        seconds[step] = now - started
        started = now

    stage_dimensions(warehouse)
    lap("stage dimensions")
    for table in PARTITIONED:
        stage_partition(warehouse, day=day, tables=(table,))
        lap(f"stage {table.name}")
    gates = gate_all(warehouse, tables=GOLD_TABLES, day=day, results_dir=results_dir)
    seconds |= {f"gate {g.table}": g.seconds for g in gates}  # each timed by the gate itself
    started = time.perf_counter()
    publish(warehouse, tables=(*DIMENSIONS, *PARTITIONED), day=day)
    lap("publish")
    return GoldBuild(day=day, gates=tuple(gates), rows=published_rows(warehouse, day=day), seconds=seconds)


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
