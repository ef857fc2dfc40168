"""``logistics quality run TABLE [--date D]``: run a gold table's quality suite by hand."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from logistics.cli._console import console

app = typer.Typer(help="Great Expectations suites that gate gold.", no_args_is_help=True)


@app.command("run")
def run(
    table: Annotated[str, typer.Argument(help="Gold table, e.g. fact_deliveries or curated.dim_facility.")],
    date: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Partition to validate (facts, features).")
    ] = None,
    staged: Annotated[
        bool, typer.Option(help="Validate the last build's staging copy instead of published gold.")
    ] = False,
) -> None:
    """Validate one table (a partition, or a whole dimension); exit 1 if any expectation fails."""
    from logistics.settings import get_settings
    from logistics.warehouse import connect
    from quality.gate import results_dir_for, run_gate

    settings = get_settings()
    try:
        with connect(settings, read_only=True) as warehouse:
            result = run_gate(
                warehouse,
                table=table,
                day=date.date() if date else None,
                results_dir=results_dir_for(settings),
                staged=staged,
            )
    except (KeyError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(result.summary())
    console.print(f"Data Docs: file://{result.report_path}\nresult (GX JSON): {result.results_path}")
    if not result.success:
        raise typer.Exit(1)
