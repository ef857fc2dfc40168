"""What every DAG in this folder shares, so a DAG file spells out only what is its own.

Airflow imports this each time it parses the DAG files: keep it to the standard library.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypedDict


class DagDefaults(TypedDict):
    start_date: dt.datetime
    catchup: bool
    max_active_runs: int


# Unpacked into each DAG(...): no catch-up runs for the intervals before a DAG was deployed
# (a past day is rebuilt by triggering marts_daily with {"day": ...}), and one run of a DAG
# at a time (one writer at a time: DuckDB's lock; the staging tables are shared).
DAG_DEFAULTS = DagDefaults(start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), catchup=False, max_active_runs=1)


def task_defaults(*, on_failure_callback: Callable[[Any], None] | None) -> dict[str, Any]:
    """A DAG's ``default_args``: no automatic retries; ``on_failure_callback``, if any, on every task."""
    defaults: dict[str, Any] = {"retries": 0}
    if on_failure_callback is not None:
        defaults["on_failure_callback"] = on_failure_callback
    return defaults
