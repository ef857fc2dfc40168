"""SQL is written once, in BigQuery's dialect, against logical datasets (``clean.shipment_events``).

:func:`prepare` maps logical datasets to physical ones and, for DuckDB, transpiles
with sqlglot. Parameters are named (``@day``) and always bound, never formatted in.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import sqlglot
from sqlglot import exp

from logistics.errors import LogisticsError

SqlDialect = str  # "bigquery" | "duckdb"

# Physical-layout clauses that only mean something to BigQuery (DuckDB has no
# partitions or clustering); dropped when rendering for DuckDB, never anything else.
_BIGQUERY_STORAGE_PROPERTIES = (exp.PartitionedByProperty, exp.ClusteredByProperty, exp.Cluster, exp.Property)


class SqlTranspileError(LogisticsError, ValueError):
    """A SQL file uses something the target engine cannot run."""


Renames = tuple[tuple[str, str], ...]  # (("curated.fact_deliveries", "curated.fact_deliveries__staging"), ...)

# sqlglot's first use in a process is not thread-safe (its lazily built dialect tables): two
# threads rendering at once produced half-transpiled SQL, which the cache then kept.
_SQLGLOT_LOCK = threading.Lock()


@lru_cache(maxsize=256)
def prepare(
    sql: str,
    *,
    dialect: SqlDialect,
    datasets: tuple[tuple[str, str], ...],
    project: str | None = None,
    renames: Renames = (),
) -> str:
    """Rewrite logical dataset names and render ``sql`` for ``dialect``.

    ``renames`` points logical tables elsewhere before datasets are mapped, so one query
    written against published gold (``curated.fact_deliveries``) can read a staging copy.
    """
    with _SQLGLOT_LOCK:
        mapping = dict(datasets)
        table_renames = {src: tuple(dst.split(".", 1)) for src, dst in renames}
        try:
            statements = sqlglot.parse(sql, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
        except sqlglot.errors.ParseError as exc:
            raise SqlTranspileError(f"not valid BigQuery SQL: {exc}") from None
        rendered = []
        for statement in statements:
            if statement is None:
                continue
            for table in statement.find_all(exp.Table):
                renamed = table_renames.get(f"{table.db}.{table.name}")
                if renamed:
                    table.set("db", exp.to_identifier(renamed[0]))
                    table.set("this", exp.to_identifier(renamed[1]))
                if table.db in mapping:
                    table.set("db", exp.to_identifier(mapping[table.db]))
                    if project and dialect == "bigquery":
                        table.set("catalog", exp.to_identifier(project))
            if dialect == "duckdb":
                for prop in list(statement.find_all(*_BIGQUERY_STORAGE_PROPERTIES)):
                    prop.pop()
                _filter_membership_as_list_contains(statement)
            try:
                rendered.append(statement.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE))
            except sqlglot.errors.UnsupportedError as exc:
                raise SqlTranspileError(f"cannot be expressed in {dialect}: {exc}") from None
        return ";\n".join(rendered)


# Where a condition only filters rows, NULL and FALSE mean the same: the row is dropped.
_FILTER_CLAUSES = (exp.Where, exp.Having, exp.Qualify)
_FILTER_CONNECTIVES = (exp.And, exp.Or, exp.Paren)


def _filter_membership_as_list_contains(statement: exp.Expr) -> None:
    """``x IN UNNEST(@ids)`` in a filter becomes ``list_contains($ids, x)``.

    sqlglot keeps BigQuery's three-valued result exactly, with a CASE over the array that
    DuckDB cannot plan as a plain membership test: it costs a point read ~1.5 ms of planning
    and filters every row. In a WHERE/HAVING/QUALIFY reached only through AND/OR, a NULL and
    a FALSE both drop the row, so the plain test is the same filter. Under NOT, or in a
    projection, the two differ, and the CASE stays.
    """
    for membership in list(statement.find_all(exp.In)):
        unnest = membership.args.get("unnest")
        if not isinstance(unnest, exp.Unnest) or len(unnest.expressions) != 1 or unnest.args.get("offset"):
            continue
        node: exp.Expr | None = membership.parent
        while isinstance(node, _FILTER_CONNECTIVES):
            node = node.parent
        if isinstance(node, _FILTER_CLAUSES):
            membership.replace(exp.ArrayContains(this=unnest.expressions[0].copy(), expression=membership.this.copy()))
