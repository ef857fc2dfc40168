"""``logistics gold-sql TABLE``: print the SQL a gold build runs for one table, or its gate's query."""

from __future__ import annotations

from typing import Annotated

import typer


def gold_sql(
    table: Annotated[str, typer.Argument(help="A gold table: dim_facility, fact_deliveries, ... (or dataset.table).")],
    quality: Annotated[
        bool, typer.Option("--quality", help="The quality gate's SQL instead: its batch and query-based expectations.")
    ] = False,
    duckdb: Annotated[bool, typer.Option("--duckdb", help="As DuckDB runs it (transpiled), not BigQuery.")] = False,
) -> None:
    """An SCD2 dimension's SQL is its file plus the versioning every dimension shares; a gate's SQL
    is the batch its suite validates plus the queries of its query-based expectations (in
    ``quality/suites/<table>.json``, ``{batch}`` standing for the batch): this prints either whole."""
    from logistics.gold.build import staging_sql
    from logistics.gold.tables import gold_table
    from logistics.warehouse import prepare
    from quality.gate import gate_queries, render_query

    try:
        gold = gold_table(table)
    except KeyError as exc:  # its message names the known tables
        raise typer.BadParameter(str(exc.args[0]), param_hint="TABLE") from None

    def as_run(sql: str) -> str:  # logical dataset names stay: the adapter maps them per environment
        if not duckdb:
            return sql.rstrip().removesuffix(";")
        return render_query(sql, day=None, render=lambda text: prepare(text, dialect="duckdb", datasets=()))

    if quality:
        text = "\n\n".join(f"-- {name}\n{as_run(sql)};" for name, sql in gate_queries(gold).items())
    elif duckdb:
        text = as_run(staging_sql(gold)).replace(";\n", ";\n\n") + ";"
    else:
        text = staging_sql(gold)
    typer.echo(text.rstrip("\n"))
