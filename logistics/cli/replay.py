"""``logistics replay --from bronze --start D [--end D] [--rebuild]``: bronze back through the pipeline."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

import typer

from logistics.cli._console import console


class ReplaySource(StrEnum):
    bronze = "bronze"


def replay(
    start: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="First event day (UTC).")],
    end: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last event day (default: start).")
    ] = None,
    source: Annotated[ReplaySource, typer.Option("--from", help="Where to replay from.")] = ReplaySource.bronze,
    rebuild: Annotated[
        bool,
        typer.Option(help="Rebuild those days' silver from bronze alone (built aside, swapped in atomically)."),
    ] = False,
    skip_corrupt: Annotated[
        bool, typer.Option(help="Leave out bronze files that do not read (reported) instead of stopping.")
    ] = False,
) -> None:
    """Replay a date range of the bronze archive into silver (idempotent), or rebuild it from bronze."""
    from logistics.cli._preflight import pipeline_problems, require
    from logistics.cli.run_pipeline import ledger_table
    from logistics.settings import get_settings
    from pipeline.replay import replay_bronze

    first = start.date()
    last = (end or start).date()
    settings = get_settings()
    require(pipeline_problems(settings, source="file"))
    # A damaged bronze file is a CorruptBronzeFile (a LogisticsError): one line, exit code 2.
    report = replay_bronze(settings=settings, start=first, end=last, rebuild=rebuild, skip_corrupt=skip_corrupt)
    for skipped in report.skipped:
        console.print(f"[yellow]skipped[/] {skipped.path} (unreadable at byte {skipped.offset}: {skipped.reason})")
    console.print(
        f"{source.value}: {len(report.files)} files, {report.envelopes} envelopes for {first}..{last}"
        + (
            f"; silver for those days rebuilt: {report.silver_rows_removed} rows replaced by "
            f"{report.silver_rows_rebuilt}"
            if rebuild
            else ""
        )
    )
    if report.ledger is not None:
        console.print(ledger_table(report.ledger))
        if not report.ledger.balanced:
            raise typer.Exit(1)
