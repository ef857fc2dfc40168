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
    rebuild: Annotated[bool, typer.Option(help="Delete those days from silver first, then rebuild them.")] = False,
) -> None:
    """Rebuild silver for a date range from the bronze archive (idempotent)."""
    from logistics.cli._preflight import pipeline_problems, require
    from logistics.cli.run_pipeline import ledger_table
    from logistics.settings import get_settings
    from pipeline.replay import replay_bronze

    first = start.date()
    last = (end or start).date()
    settings = get_settings()
    require(pipeline_problems(settings, source="file"))
    report = replay_bronze(settings=settings, start=first, end=last, rebuild=rebuild)
    console.print(
        f"{source.value}: {len(report.files)} files, {report.envelopes} envelopes for {first}..{last}"
        + (f"; {report.silver_rows_removed} silver rows removed first" if rebuild else "")
    )
    if report.ledger is not None:
        console.print(ledger_table(report.ledger))
        if not report.ledger.balanced:
            raise typer.Exit(1)
