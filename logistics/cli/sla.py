"""``logistics sla``: the sla_monitoring DAG's checks, run by hand (pipeline lag, DLQ rate, freshness, on-time)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from logistics.cli._console import console


def sla(
    at: Annotated[
        dt.datetime | None, typer.Option(help="Measure as of this time (UTC; default now), e.g. after a replay.")
    ] = None,
) -> None:
    """Measure every SLA against the configured thresholds; exit 1 on any breach."""
    from dags.ops.sla import evaluate, measure
    from logistics.cli._preflight import require, warehouse_command_problems
    from logistics.settings import get_settings
    from logistics.warehouse import connect

    settings = get_settings()
    require(warehouse_command_problems(settings, write=True))  # measure() creates missing gold tables
    now = at.replace(tzinfo=dt.UTC) if at else dt.datetime.now(dt.UTC)  # typer parses naive times: UTC
    # measure() creates missing gold tables (empty) so a fresh warehouse reports a breach, not a crash.
    with connect(settings) as warehouse:
        metrics = measure(warehouse, now=now, settings=settings.marts)
    breaches = {b.check: b for b in evaluate(metrics, settings.marts)}
    table = Table(title=f"SLAs at {now:%Y-%m-%d %H:%M} UTC")
    for column in ("check", "observed", "verdict"):
        table.add_column(column)
    observed: dict[str, float | None] = {
        "pipeline_lag_minutes": metrics.pipeline_lag_minutes,
        "dlq_rate": metrics.dlq_rate,
        **{f"freshness.clean.{t}_minutes": v for t, v in metrics.silver_staleness_minutes.items()},
        "freshness.gold_hours": metrics.gold_staleness_hours,
        "on_time_rate": metrics.on_time_rate,
    }
    for check, value in observed.items():
        breach = breaches.get(check)
        verdict = f"[red]breach[/] (threshold {breach.threshold})" if breach else "[green]ok[/]"
        table.add_row(check, "no data" if value is None else f"{value:,.3f}", verdict)
    console.print(table)
    if breaches:
        raise typer.Exit(1)
