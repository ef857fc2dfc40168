"""``logistics build-marts``: build the gold tables for a day from silver."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from logistics.cli._console import console


def build_marts(
    date: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="Day to build (UTC).")],
) -> None:
    """Rebuild gold for one day (idempotent: a re-run replaces that day's partition)."""
    from dags.gold import build_fact_shipments
    from logistics.settings import get_settings
    from logistics.warehouse import connect

    with connect(get_settings()) as warehouse:
        rows = build_fact_shipments(warehouse, day=date.date())
    console.print(f"curated.fact_shipments: {rows} rows for {date.date()}")
