"""The quality gate: validate one gold table (a partition, or a whole dimension) with its GX suite.

Each table's suite is a file, ``quality/suites/<table>.json``, in Great Expectations' own
terms: ``expect_column_values_to_not_be_null``, ``_to_be_unique``, ``_to_be_in_set``,
``_to_be_between``, compound-key uniqueness, row counts and sums bounded by what silver says
(suite parameters such as ``{"$PARAMETER": "deliveries_min"}``, from ``quality/sql/*_bounds.sql``),
and, where a rule needs other tables or other rows (SCD2 gaps and overlaps, facts whose
dimension key is unknown, a label that disagrees with its fact), ``expect_no_unexpected_rows``
(GX's ``UnexpectedRowsExpectation``, ``quality.unexpected_rows``) with a query in BigQuery's
dialect over ``{batch}`` and the logical table names.

The batch is the staged partition itself (``SELECT * FROM <table>__staging WHERE <partition> =
day``), validated by GX's SQL execution engine where it lives (``quality.context``). Results
are SUMMARY with the suite's ``row_keys`` as GX's ``unexpected_index_column_names``: per failed
expectation the unexpected count and a sample of failing rows (their keys and values). Each
validation is stored by GX (``<results>/validations/``) and rendered into Data Docs
(``<results>/data_docs/``); :class:`GateResult` points at both.

``staged=True`` validates the ``__staging`` tables of the current build (the adapter's table
renames point every gold name, also inside the queries, at its staging copy); ``staged=False``
the published ones.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logistics.errors import LogisticsError
from logistics.gold.tables import GOLD_TABLES, GoldTable, gold_table
from logistics.settings import Settings
from logistics.warehouse import Renames, Warehouse, sql_file
from quality.context import SITE_NAME, data_context, load_suite, read_suite, warehouse_datasource

if TYPE_CHECKING:
    from great_expectations.data_context.data_context.abstract_data_context import AbstractDataContext

log = logging.getLogger(__name__)

QUALITY_SQL = Path(__file__).resolve().parent / "sql"
SAMPLE_ROWS = 20  # failing rows kept per expectation (GX's partial_unexpected_count)
_FACT_ROWS = "SELECT COUNT(*) AS fact_rows FROM curated.fact_deliveries WHERE delivery_date = @day"
# {batch} stands for the batch in a suite's queries; this name stands for it while sqlglot renders them
_BATCH_STAND_IN = "gate_batch.rows_under_test"


class QualityGateFailed(LogisticsError, RuntimeError):
    """A staged table broke its suite: nothing was published. ``reports`` are the Data Docs pages."""

    def __init__(self, message: str, *, reports: tuple[Path, ...] = ()) -> None:
        super().__init__(message)
        self.reports = reports


@dataclass(frozen=True)
class GateFailure:
    """One unmet expectation: what, how many rows, and a sample of them (keys and failing values)."""

    expectation: str  # "expectation_type(column)" or, for a query, "expect_no_unexpected_rows(rule)"
    unexpected_count: int | None  # None: a table-level expectation (row count, sum) or an error
    # GX's JSON form of the result: timestamps are ISO strings
    observed: Any = None
    sample: tuple[dict[str, Any], ...] = ()

    def describe(self) -> str:
        text = self.expectation
        if self.unexpected_count is not None:
            text += f": {self.unexpected_count} rows"
        elif self.observed is not None:
            text += f": observed {self.observed}"
        if self.sample:
            text += f", e.g. {_row_text(self.sample[0])}"
        return text


@dataclass(frozen=True)
class GateResult:
    table: str
    day: dt.date | None
    success: bool
    evaluated: int
    failures: tuple[GateFailure, ...]
    results_path: Path  # GX's stored validation result (JSON)
    report_path: Path  # its Data Docs page
    seconds: float = 0.0  # wall time: silver bounds (first table needing them), GX, Data Docs
    parameters: dict[str, Any] = field(default_factory=dict)  # the suite parameters it ran with

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(f.expectation for f in self.failures)

    def summary(self) -> str:
        scope = f"{self.table}@{self.day}" if self.day else self.table
        if self.success:
            return f"{scope}: {self.evaluated} expectations met (report {self.report_path})"
        failed = "; ".join(f.describe() for f in self.failures)
        return f"{scope}: FAILED {failed} (report {self.report_path})"


def staging_renames() -> Renames:
    """Point every gold table at its staging copy (what a build is about to publish)."""
    return tuple((t.name, t.staging) for t in GOLD_TABLES)


def batch_sql(table: GoldTable) -> str:
    """The rows a table's gate validates (BigQuery dialect, published names; ``@day`` for a partition)."""
    if table.partition_column is None:
        return f"SELECT * FROM {table.name}"
    return f"SELECT * FROM {table.name} WHERE {table.partition_column} = @day"


def render_for(warehouse: Warehouse, sql: str, *, day: dt.date | None, renames: Renames) -> str:
    """``sql`` (a batch query or a suite's query over ``{batch}``) as this warehouse runs it."""
    return render_query(sql, day=day, render=lambda text: warehouse.render(text, renames=renames))


def render_query(sql: str, *, day: dt.date | None, render: Callable[[str], str]) -> str:
    """``sql`` through ``render`` (the adapter's, or sqlglot's for printing), ``{batch}`` kept for GX.

    GX binds no parameters in its queries: ``@day`` becomes a DATE literal (a ``date``, never text).
    """
    if day is not None:
        sql = re.sub(r"@day\b", f"DATE '{day.isoformat()}'", sql)
    return render(sql.replace("{batch}", _BATCH_STAND_IN)).replace(_BATCH_STAND_IN, "{batch}")


def gate_queries(table: GoldTable) -> dict[str, str]:
    """The SQL of a table's gate (BigQuery dialect): its batch, then each query-based expectation by rule."""
    queries = {"batch": batch_sql(table)}
    for expectation in read_suite(table.short_name).get("expectations", []):
        query = expectation.get("kwargs", {}).get("unexpected_rows_query")
        if query:
            queries[(expectation.get("meta") or {}).get("rule") or f"query {len(queries)}"] = query
    return queries


def run_gate(
    warehouse: Warehouse,
    *,
    table: str | GoldTable,
    day: dt.date | None,
    results_dir: Path,
    staged: bool = True,
    bounds: GateBounds | None = None,
    context: AbstractDataContext | None = None,
    build_index: bool = True,
) -> GateResult:
    """Validate one table; ``bounds`` and ``context`` are shared across the tables of one build,
    which updates the Data Docs index once, with its last table (``build_index``)."""
    started = time.perf_counter()
    target = table if isinstance(table, GoldTable) else gold_table(table)
    if target.partition_column and day is None:
        raise ValueError(f"{target.name} is partitioned by {target.partition_column}: give the day to validate")
    scope_day = day if target.partition_column else None
    renames = staging_renames() if staged else ()
    if bounds is None:
        bounds = GateBounds(warehouse, renames=renames)
    parameters = bounds.for_table(target, day=scope_day)
    context = context or data_context(results_dir)
    suite = load_suite(context, target.short_name)
    row_keys = list((suite.meta or {}).get("row_keys") or [])  # the failing rows' keys to report
    for expectation in suite.expectations:  # a suite's queries are written like the gold SQL
        if hasattr(expectation, "unexpected_rows_query"):
            expectation.unexpected_rows_query = render_for(
                warehouse, expectation.unexpected_rows_query, day=scope_day, renames=renames
            )
    with warehouse_datasource(context, warehouse) as source:
        asset = source.add_query_asset(
            target.short_name, query=render_for(warehouse, batch_sql(target), day=scope_day, renames=renames)
        )
        batch = asset.add_batch_definition_whole_table("whole").get_batch()
        result = batch.validate(
            suite,
            result_format={
                "result_format": "SUMMARY",
                "unexpected_index_column_names": row_keys,
                "partial_unexpected_count": SAMPLE_ROWS,
            },
            expectation_parameters=parameters,
        )
    kind = "staged" if staged else "published"
    results_path, report_path = _store(
        context, result, table=target, day=scope_day, kind=kind, results_dir=results_dir, build_index=build_index
    )
    body = result.to_json_dict()
    return GateResult(
        table=target.name,
        day=scope_day,
        success=bool(body["success"]),
        evaluated=len(body["results"]),
        failures=tuple(_failure(r) for r in body["results"] if not r["success"]),
        results_path=results_path,
        report_path=report_path,
        seconds=time.perf_counter() - started,
        parameters=parameters,
    )


def gate_all(
    warehouse: Warehouse, *, tables: tuple[GoldTable, ...], day: dt.date, results_dir: Path
) -> list[GateResult]:
    """Validate every staged table of a build; raise :class:`QualityGateFailed` naming each failure."""
    bounds = GateBounds(warehouse, renames=staging_renames())
    context = data_context(results_dir)
    results = [
        run_gate(
            warehouse,
            table=table,
            day=day,
            results_dir=results_dir,
            bounds=bounds,
            context=context,
            build_index=table == tables[-1],
        )
        for table in tables
    ]
    for r in results:
        log.info("quality gate %s", r.summary())
    failed = [r for r in results if not r.success]
    if failed:
        raise QualityGateFailed("; ".join(r.summary() for r in failed), reports=tuple(r.report_path for r in failed))
    return results


class GateBounds:
    """What silver (or the change logs) says the gold tables should hold, queried once per build:
    the suite parameters (row-count and sum bounds)."""

    def __init__(self, warehouse: Warehouse, *, renames: Renames) -> None:
        self._warehouse = warehouse
        self._renames = renames
        self._found: dict[tuple[str, dt.date | None], dict[str, Any]] = {}

    def for_table(self, table: GoldTable, *, day: dt.date | None) -> dict[str, Any]:
        kind = "partition" if table.partition_column else "dimension"
        if (kind, day) not in self._found:
            found = self._query(day) if kind == "partition" else self._query_dimensions()
            self._found[kind, day] = {k: int(v or 0) for k, v in found.items()}
        return self._found[kind, day]

    def _query_dimensions(self) -> dict[str, Any]:
        return self._warehouse.query(sql_file(QUALITY_SQL / "dimension_bounds.sql"), renames=self._renames)[0]

    def _query(self, day: dt.date | None) -> dict[str, Any]:
        params = {"day": day}
        bounds = self._warehouse.query(sql_file(QUALITY_SQL / "silver_bounds.sql"), params, renames=self._renames)[0]
        return bounds | self._warehouse.query(_FACT_ROWS, params, renames=self._renames)[0]


def _store(
    context: AbstractDataContext,
    result: Any,
    *,
    table: GoldTable,
    day: dt.date | None,
    kind: str,
    results_dir: Path,
    build_index: bool,
) -> tuple[Path, Path]:
    """Keep the validation in GX's results store and render its Data Docs page; return both paths."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    for item in result.results:
        sample = (item.result or {}).get("partial_unexpected_index_list")
        if sample and "unexpected_index_list" not in item.result:
            # Data Docs print failing rows' keys from this list (a SUMMARY result holds a sample of
            # it); the page heads the table "Sampled Unexpected Values" when it is not every row
            item.result["unexpected_index_list"] = sample
    run_id = RunIdentifier(run_name=f"{day.isoformat() if day else 'all'}.{kind}", run_time=dt.datetime.now(dt.UTC))
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=table.short_name),
        run_id=run_id,
        batch_identifier=table.short_name,
    )
    result.meta["run_id"] = run_id
    context.validation_results_store.set(key, result)
    context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=[key], build_index=build_index)
    relative = Path(*key.to_tuple()[:-1]) / f"{key.to_tuple()[-1]}"
    results_path = results_dir / "validations" / relative.with_suffix(".json")
    report_path = results_dir / "data_docs" / "validations" / relative.with_suffix(".html")
    return results_path, report_path


def _failure(item: dict[str, Any]) -> GateFailure:
    config = item["expectation_config"]
    result = item.get("result") or {}
    name = f"{config['type']}({_subject_of(config)})"
    error = (item.get("exception_info") or {}).get("exception_message")
    count = result.get("unexpected_count")
    if "unexpected_rows" in (result.get("details") or {}):  # a query: its row count is the observed value
        sample = tuple(result["details"]["unexpected_rows"])
        count = result.get("observed_value")
    else:
        sample = tuple(result.get("partial_unexpected_index_list") or ())
    return GateFailure(
        expectation=name,
        unexpected_count=None if count is None else int(count),
        observed=error or result.get("observed_value"),
        sample=sample,
    )


def _subject_of(config: dict[str, Any]) -> str:
    """What an expectation is about: its column(s), or a query's ``meta.rule``, else ``table``."""
    kwargs = config.get("kwargs", {})
    for key in ("column", "column_list", "column_A"):
        if key in kwargs:
            value = kwargs[key]
            if key == "column_A":
                return f"{value},{kwargs['column_B']}"
            return ",".join(value) if isinstance(value, list) else str(value)
    rule = (config.get("meta") or {}).get("rule")
    return str(rule) if rule else "table"


def _row_text(row: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in row.items()) + "}"


def results_dir_for(settings: Settings) -> Path:
    """Where GX keeps validation results and Data Docs: ``<data_dir>/quality``."""
    return settings.storage.resolved_data_dir() / "quality"
