"""``logistics gold-sql TABLE``: print the SQL a gold build runs for one table, or its gate's query."""

from __future__ import annotations

from typing import Annotated

import typer


def gold_sql(
    table: Annotated[str, typer.Argument(help="A gold table: dim_facility, fact_deliveries, ... (or dataset.table).")],
    quality: Annotated[bool, typer.Option("--quality", help="The quality gate's summary query instead.")] = False,
    duckdb: Annotated[bool, typer.Option("--duckdb", help="As DuckDB runs it (transpiled), not BigQuery.")] = False,
) -> None:
    """An SCD2 dimension's SQL is its file plus the versioning every dimension shares, and its
    gate's query is the shared invariants plus its own rules: this prints either whole."""
    from dags.gold.build import staging_sql
    from dags.gold.tables import gold_table
    from logistics.warehouse import prepare
    from quality.summary import summary_sql

    try:
        gold = gold_table(table)
    except KeyError as exc:  # its message names the known tables
        raise typer.BadParameter(str(exc.args[0]), param_hint="TABLE") from None
    sql = summary_sql(gold) if quality else staging_sql(gold)
    if duckdb:  # logical dataset names stay: the adapter maps them per environment
        sql = prepare(sql, dialect="duckdb", datasets=()).replace(";\n", ";\n\n") + ";"
    typer.echo(sql.rstrip("\n"))
