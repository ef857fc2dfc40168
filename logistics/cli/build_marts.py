"""``logistics build-marts``: build the gold tables for a day from silver, behind the quality gate."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from logistics.cli._console import console


def build_marts(
    date: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="Day to build (UTC).")],
) -> None:
    """Stage every gold table for one day, validate it, publish it only if the gate passes (idempotent)."""
    from logistics.cli._preflight import require, warehouse_command_problems
    from logistics.settings import get_settings
    from logistics.warehouse import connect
    from quality.build import build_gold
    from quality.gate import QualityGateFailed, results_dir_for

    settings = get_settings()
    require(warehouse_command_problems(settings, write=True))
    day = date.date()
    try:
        with connect(settings) as warehouse:
            build = build_gold(warehouse, day=day, results_dir=results_dir_for(settings))
    except QualityGateFailed as exc:
        console.print(f"[red]quality gate failed; published gold unchanged[/red]\n{exc}")
        raise typer.Exit(1) from None
    rows = Table(title=f"gold published for {day}")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    rows.add_column("gate")
    gates = {g.table: g for g in build.gates}
    for table, count in build.rows.items():
        rows.add_row(table, str(count), str(gates[table].report_path) if table in gates else "")
    console.print(rows)
