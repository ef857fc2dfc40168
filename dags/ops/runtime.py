"""How a DAG task reaches the platform: fresh settings, a briefly opened warehouse, the day it builds.

Tasks read settings from the environment each time (``LOGISTICS_STORAGE__DATA_DIR`` etc.),
never a process-wide cache, and hold the DuckDB file only while they work (a writer
excludes every other process: docs/local-components.md, "DuckDB").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from logistics.settings import Settings
from logistics.warehouse import Warehouse, connect


def task_settings() -> Settings:
    return Settings()


@contextmanager
def warehouse(*, read_only: bool = False) -> Iterator[Warehouse]:
    with connect(task_settings(), read_only=read_only) as wh:
        yield wh


def build_day(context: Mapping[str, Any]) -> dt.date:
    """The day a daily run builds: ``params.day`` if given, else the day before the run's logical date."""
    requested = (context.get("params") or {}).get("day")
    if requested:
        return dt.date.fromisoformat(str(requested))
    logical: dt.datetime = context["logical_date"]
    return (logical.astimezone(dt.UTC) - dt.timedelta(days=1)).date()


def run_time(context: Mapping[str, Any]) -> dt.datetime:
    """'Now' for a monitoring run: its logical date (a cron trigger's fire time), so re-runs agree."""
    logical: dt.datetime = context["logical_date"]
    return logical.astimezone(dt.UTC)
