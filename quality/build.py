"""A day's gold, built behind the quality gate: stage every table, validate the staged data, publish
only if every suite passes. The DAGs run the same steps as separate tasks (``dags/ops/tasks.py``);
this runs them in one call (``logistics build-marts``, the demo, the benchmarks)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

from logistics.gold import (
    DIMENSIONS,
    GOLD_TABLES,
    PARTITIONED,
    publish,
    published_rows,
    stage_dimensions,
    stage_partition,
)
from logistics.warehouse import Warehouse
from quality.gate import GateResult, gate_all


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
