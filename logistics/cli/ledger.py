"""``logistics ledger``: the conservation ledger of every committed run, and the whole stream's balance."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from logistics.cli._console import console

if TYPE_CHECKING:
    from pipeline.ledger import Ledger


def ledger(
    since: Annotated[dt.datetime | None, typer.Option(help="Only runs committed at or after this time (UTC).")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Only this run (a run id, or a micro-batch's id).")] = None,
    last: Annotated[int, typer.Option(min=0, help="Runs to list (the newest); the balance covers them all.")] = 20,
) -> None:
    """What every committed run received and where each record went (silver, the DLQ, duplicates).

    Each run's ledger is written with its rows, in one transaction: after any crash, the
    ledgers cover exactly what silver and the DLQ hold from bounded runs. Exit 1 if a run, or
    the sum of them, does not balance."""
    from logistics.cli._preflight import require, warehouse_command_problems
    from logistics.settings import get_settings
    from logistics.warehouse import connect
    from pipeline.ledger import committed, summed

    settings = get_settings()
    require(warehouse_command_problems(settings, write=True))  # ensure_tables() below
    with connect(settings) as warehouse:
        warehouse.ensure_tables()  # a fresh warehouse: no runs yet, not an error
        runs = committed(warehouse, since=since.replace(tzinfo=dt.UTC) if since else None, run_id=run)
    if not runs:
        console.print("no committed runs" + (" match" if since or run else " yet"))
        return
    table = Table(
        title="Committed runs (clean.pipeline_ledger)" + (f", the newest {last}" if len(runs) > last else ""),
        caption="silver, DLQ: rows added (+ already present: a replay or a retry)",
    )
    table.add_column("committed (UTC)")
    table.add_column("run", no_wrap=True, min_width=max(len(each.run_id) for _, _, each in runs))
    for column in ("received", "silver", "DLQ", "duplicates", "balance"):
        table.add_column(column, justify="right")
    for committed_at, _input, each in runs[-last:] if last else []:
        received, silver, silver_present, dlq, dlq_present, duplicates = _counts(each)
        table.add_row(
            f"{committed_at:%m-%d %H:%M:%S}",
            each.run_id,
            f"{received:,}",
            f"{silver:,}" + (f" (+{silver_present:,})" if silver_present else ""),
            f"{dlq:,}" + (f" (+{dlq_present:,})" if dlq_present else ""),
            f"{duplicates:,}",
            "[green]ok[/]" if each.balanced else f"[red]{each.received - each.accounted:+,}[/]",
        )
    if last:
        console.print(table)
    total = summed((each for _, _, each in runs), run_id="all")
    unbalanced = [each.run_id for _, _, each in runs if not each.balanced]
    received, silver, silver_present, dlq, dlq_present, duplicates = _counts(total)
    console.print(
        f"{len(runs):,} committed run(s): received {received:,} = silver {silver:,} (+{silver_present:,} already "
        f"present) + DLQ {dlq:,} (+{dlq_present:,} already present) + duplicates {duplicates:,}: "
        + ("[green]balanced[/]" if total.balanced and not unbalanced else "[red]NOT balanced[/]")
    )
    if unbalanced:
        console.print(f"[red]unbalanced runs:[/] {', '.join(unbalanced)}")
    if unbalanced or not total.balanced:
        raise typer.Exit(1)


def _counts(each: Ledger) -> tuple[int, int, int, int, int, int]:
    return (
        each.received,
        each.silver_total,
        each.silver_already_present,
        each.dlq,
        each.dlq_already_present,
        each.duplicates,
    )
