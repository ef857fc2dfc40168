"""Delivery performance: from gold's fact_deliveries when it exists, else computed from silver."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from graphql_api.queries import SQL
from graphql_api.reader import Reader

GroupBy = Literal["day", "facility", "carrier"]


@dataclass(frozen=True)
class PerformanceRow:
    key: str
    deliveries: int
    on_time_deliveries: int
    average_attempts: float | None
    source: Literal["gold", "silver"]

    @property
    def on_time_percentage(self) -> float | None:
        return round(100.0 * self.on_time_deliveries / self.deliveries, 2) if self.deliveries else None


def delivery_performance(
    reader: Reader, *, window_start: dt.datetime, window_end: dt.datetime, group_by: GroupBy
) -> list[PerformanceRow]:
    params = {"window_start": window_start, "window_end": window_end, "group_by": group_by}
    rows = reader.query_optional(SQL.delivery_performance_gold, params)
    source: Literal["gold", "silver"] = "gold"
    if rows is None:
        rows, source = reader.query(SQL.delivery_performance, params), "silver"
    return [
        PerformanceRow(
            key=str(r["group_key"]),
            deliveries=int(r["deliveries"]),
            on_time_deliveries=int(r["on_time_deliveries"] or 0),
            average_attempts=round(float(r["average_attempts"]), 2) if r["average_attempts"] is not None else None,
            source=source,
        )
        for r in rows
        if r["group_key"] is not None
    ]
