"""The quality gate: validate one gold table (a partition, or a whole dimension) with GX.

Great Expectations runs on an ephemeral context against a pandas DataFrame fetched through
the warehouse adapter: GX's SQL datasource on DuckDB returns nothing once GX closes its
connection (see RUNBOOK), and a DataFrame works the same for DuckDB and BigQuery. The frame
is the table's violation summary (``quality.summary``: one row of counts computed in the
warehouse, see ``quality.suites``), so the gate costs one scan of the partition, not a
multi-million-row fetch.

``staged=True`` validates the ``__staging`` tables of the current build (the same SQL,
pointed at staging by the adapter's table renames); ``staged=False`` the published ones.
Each validation is stored as JSON next to an HTML report.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from dags.gold.tables import GOLD_TABLES, GoldTable, gold_table
from logistics.settings import Settings
from logistics.warehouse import Renames, Warehouse, sql_file
from quality.report import render_html
from quality.suites import SUITES, Lookups
from quality.summary import QUALITY_SQL, summary_sql

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.data_context.data_context.abstract_data_context import AbstractDataContext

log = logging.getLogger(__name__)

_FACT_ROWS = "SELECT COUNT(*) AS fact_rows FROM curated.fact_deliveries WHERE delivery_date = @day"


class QualityGateFailed(RuntimeError):
    """A staged table broke its suite: nothing was published."""


@dataclass(frozen=True)
class GateResult:
    table: str
    day: dt.date | None
    success: bool
    evaluated: int
    failed: tuple[str, ...]  # "expectation_type(column)" of each unmet expectation
    results_path: Path
    report_path: Path
    seconds: float = 0.0  # wall time: summary query, silver bounds (first table needing them), GX, report

    def summary(self) -> str:
        scope = f"{self.table}@{self.day}" if self.day else self.table
        if self.success:
            return f"{scope}: {self.evaluated} expectations met (report {self.report_path})"
        return f"{scope}: FAILED {', '.join(self.failed)} (report {self.report_path})"


def staging_renames() -> Renames:
    """Point every gold table at its staging copy (what a build is about to publish)."""
    return tuple((t.name, t.staging) for t in GOLD_TABLES)


def run_gate(
    warehouse: Warehouse,
    *,
    table: str | GoldTable,
    day: dt.date | None,
    results_dir: Path,
    staged: bool = True,
    bounds: GateBounds | None = None,
) -> GateResult:
    """Validate one table; ``bounds`` shares silver's bounds across the tables of one build."""
    started = time.perf_counter()
    target = table if isinstance(table, GoldTable) else gold_table(table)
    if target.partition_column and day is None:
        raise ValueError(f"{target.name} is partitioned by {target.partition_column}: give the day to validate")
    scope_day = day if target.partition_column else None
    renames = staging_renames() if staged else ()
    params = {"day": scope_day} if scope_day else None
    frame = warehouse.dataframe(summary_sql(target), params, renames=renames)
    if bounds is None:
        bounds = GateBounds(warehouse, renames=renames)
    lookups = Lookups(day=scope_day, bounds=bounds.for_table(target, day=scope_day))
    result = _validate(frame, name=target.short_name, expectations=SUITES[target.short_name](lookups))
    stored = _store(result, table=target, day=scope_day, staged=staged, results_dir=results_dir)
    return dataclasses.replace(stored, seconds=time.perf_counter() - started)


def gate_all(
    warehouse: Warehouse, *, tables: tuple[GoldTable, ...], day: dt.date, results_dir: Path
) -> list[GateResult]:
    """Validate every staged table of a build; raise :class:`QualityGateFailed` naming each failure."""
    bounds = GateBounds(warehouse, renames=staging_renames())
    results = [run_gate(warehouse, table=t, day=day, results_dir=results_dir, bounds=bounds) for t in tables]
    for r in results:
        log.info("quality gate %s", r.summary())
    failed = [r for r in results if not r.success]
    if failed:
        raise QualityGateFailed("; ".join(r.summary() for r in failed))
    return results


class GateBounds:
    """What silver (or the change logs) says the gold tables should hold, queried once per build."""

    def __init__(self, warehouse: Warehouse, *, renames: Renames) -> None:
        self._warehouse = warehouse
        self._renames = renames
        self._found: dict[tuple[str, dt.date | None], dict[str, Any]] = {}

    def for_table(self, table: GoldTable, *, day: dt.date | None) -> dict[str, Any]:
        kind = "partition" if table.partition_column else "dimension"
        if (kind, day) not in self._found:
            self._found[kind, day] = self._query(day) if kind == "partition" else self._query_dimensions()
        return self._found[kind, day]

    def _query_dimensions(self) -> dict[str, Any]:
        return self._warehouse.query(sql_file(QUALITY_SQL / "dimension_bounds.sql"), renames=self._renames)[0]

    def _query(self, day: dt.date | None) -> dict[str, Any]:
        params = {"day": day}
        bounds = self._warehouse.query(sql_file(QUALITY_SQL / "silver_bounds.sql"), params, renames=self._renames)[0]
        return bounds | self._warehouse.query(_FACT_ROWS, params, renames=self._renames)[0]


@cache
def _context() -> AbstractDataContext:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _validate(frame: pd.DataFrame, *, name: str, expectations: list[Any]) -> dict[str, Any]:
    import great_expectations as gx

    context = _context()
    # one datasource per table, reused across runs (the context lives for the process)
    source: Any
    try:
        source = context.data_sources.get(name)
    except (KeyError, ValueError):
        source = context.data_sources.add_pandas(name)
    try:
        batch_definition = source.get_asset(name).get_batch_definition(name)
    except (LookupError, ValueError):
        batch_definition = source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe(name)
    suite = gx.ExpectationSuite(name=f"{name}.gate", expectations=expectations)
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format="SUMMARY")
    return dict(result.to_json_dict())


def _store(
    result: dict[str, Any], *, table: GoldTable, day: dt.date | None, staged: bool, results_dir: Path
) -> GateResult:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = results_dir / table.short_name / (day.isoformat() if day else "all")
    folder.mkdir(parents=True, exist_ok=True)
    kind = "staged" if staged else "published"
    results_path = folder / f"{stamp}-{kind}.json"
    report_path = folder / f"{stamp}-{kind}.html"
    results_path.write_bytes(orjson.dumps(result, default=str, option=orjson.OPT_INDENT_2))
    title = f"{table.name} {day or ''} ({kind})".replace("  ", " ")
    report_path.write_text(render_html(title=title, result=result), encoding="utf-8")
    failed = tuple(
        f"{r['expectation_config']['type']}({_column_of(r['expectation_config']['kwargs'])})"
        for r in result["results"]
        if not r["success"]
    )
    return GateResult(
        table=table.name,
        day=day,
        success=bool(result["success"]),
        evaluated=len(result["results"]),
        failed=failed,
        results_path=results_path,
        report_path=report_path,
    )


def _column_of(kwargs: dict[str, Any]) -> str:
    for key in ("column", "column_list", "column_A"):
        if key in kwargs:
            value = kwargs[key]
            return ",".join(value) if isinstance(value, list) else str(value)
    return "table"


def results_dir_for(settings: Settings) -> Path:
    """Where validation results and HTML reports are kept: ``<data_dir>/quality``."""
    return settings.storage.resolved_data_dir() / "quality"
