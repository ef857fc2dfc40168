"""Delivery performance: from gold's fact_deliveries when it exists, else computed from silver."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from graphql_api.queries import SQL
from graphql_api.reader import Reader

GroupBy = Literal["day", "facility", "carrier"]


def on_time_percentage(on_time: int, deliveries: int) -> float | None:
    return round(100.0 * on_time / deliveries, 2) if deliveries else None


class PerformanceGroup(BaseModel):
    """Delivery KPIs for one group: REST returns it as is, GraphQL's DeliveryPerformanceGroup is derived from it."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="The day (YYYY-MM-DD), facility id or carrier id.")
    deliveries: int
    on_time_deliveries: int
    on_time_percentage: float | None
    average_attempts: float | None
    source: Literal["gold", "silver"] = Field(description="gold (curated.fact_deliveries) or silver (computed).")


def delivery_performance(
    reader: Reader, *, window_start: dt.datetime, window_end: dt.datetime, group_by: GroupBy
) -> list[PerformanceGroup]:
    params = {"window_start": window_start, "window_end": window_end, "group_by": group_by}
    rows = reader.query_optional(SQL.delivery_performance_gold, params)
    source: Literal["gold", "silver"] = "gold"
    if rows is None:
        rows, source = reader.query(SQL.delivery_performance, params), "silver"
    return [_group(r, source=source) for r in rows if r["group_key"] is not None]


def _group(row: dict[str, Any], *, source: Literal["gold", "silver"]) -> PerformanceGroup:
    deliveries, on_time = int(row["deliveries"]), int(row["on_time_deliveries"] or 0)
    attempts = row["average_attempts"]
    return PerformanceGroup(
        key=str(row["group_key"]),
        deliveries=deliveries,
        on_time_deliveries=on_time,
        on_time_percentage=on_time_percentage(on_time, deliveries),
        average_attempts=round(float(attempts), 2) if attempts is not None else None,
        source=source,
    )
