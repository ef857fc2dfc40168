"""``logistics run-pipeline``: input files -> bronze + silver + DLQ, then print the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from logistics.cli._console import console


def ledger_table(ledger: object) -> Table:
    from pipeline.run import Ledger

    assert isinstance(ledger, Ledger)
    table = Table(title=f"Conservation ledger (run {ledger.run_id})")
    table.add_column("where")
    table.add_column("records", justify="right")
    table.add_row("received", str(ledger.received))
    for name, count in ledger.silver_inserted.items():
        table.add_row(f"silver: clean.{name}", str(count))
    table.add_row("silver: already present (replay)", str(ledger.silver_already_present))
    table.add_row("DLQ: clean.dlq_events", str(ledger.dlq))
    table.add_row("DLQ: already present (replay)", str(ledger.dlq_already_present))
    table.add_row("duplicates dropped", str(ledger.duplicates))
    verdict = "[green]balanced[/]" if ledger.balanced else "[red]NOT balanced[/]"
    table.add_row("accounted for", f"{ledger.accounted} {verdict}")
    return table


def run_pipeline(
    input: Annotated[Path | None, typer.Option(help="JSONL file or folder (default: <data_dir>/input).")] = None,
) -> None:
    """Run the Beam pipeline on the configured runner over the input files."""
    from logistics.settings import get_settings
    from pipeline.run import input_files
    from pipeline.run import run_pipeline as run

    settings = get_settings()
    source = input or settings.storage.resolved_data_dir() / "input"
    with console.status(f"running the pipeline over {source} ..."):
        ledger = run(settings=settings, input_pattern=input_files(source))
    console.print(ledger_table(ledger))
    console.print(f"bronze: {settings.storage.bronze}   warehouse: {settings.storage.duckdb_path}")
    if not ledger.balanced:
        raise typer.Exit(1)
