"""Facility reads: the latest profile from silver, metrics over a window, SCD2 history from gold."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from graphql_api.analytics import delivery_performance
from graphql_api.queries import SQL
from graphql_api.reader import Reader, payload_of


@dataclass(frozen=True)
class FacilityRecord:
    facility_id: str
    profile: dict[str, Any]  # the latest facility.created payload
    capacity_per_hour: int  # after the latest capacity change


class FacilityMetricsRecord(BaseModel):
    """Facility KPIs over a window: REST returns it as is, GraphQL's FacilityMetrics is derived from it."""

    model_config = ConfigDict(frozen=True, title="FacilityMetrics")

    facility_id: str
    window_start: dt.datetime
    window_end: dt.datetime
    volume: int = Field(description="Shipments scanned at the facility in the window.")
    average_dwell_hours: float | None = Field(description="First to last scan of a shipment there.")
    deliveries: int = Field(description="Deliveries completed from the facility in the window.")
    on_time_deliveries: int
    on_time_percentage: float | None


def build_facility(facility_id: str, rows: list[dict[str, Any]]) -> FacilityRecord | None:
    created = [r for r in rows if r["event_type"] == "facility.created"]
    if not created:
        return None
    profile = payload_of(created[-1])
    capacity = int(profile["capacity_per_hour"])
    for row in rows:  # oldest first: the last change wins
        if row["event_type"] == "facility.capacity_changed" and row["event_time"] >= created[-1]["event_time"]:
            capacity = int(payload_of(row)["capacity_per_hour"])
    return FacilityRecord(facility_id=facility_id, profile=profile, capacity_per_hour=capacity)


def load_facilities(reader: Reader, facility_ids: list[str]) -> list[FacilityRecord | None]:
    rows = reader.load_many(SQL.facility_events, param="facility_ids", keys=facility_ids, key_column="facility_id")
    return [build_facility(fid, rows.get(fid, [])) for fid in facility_ids]


def facility_ids(reader: Reader, *, limit: int) -> list[str]:
    return [r["facility_id"] for r in reader.query(SQL.facility_ids, {"page_limit": limit})]


def load_metrics(
    reader: Reader, facility_ids: list[str], *, window_start: dt.datetime, window_end: dt.datetime
) -> list[FacilityMetricsRecord]:
    window = {"window_start": window_start, "window_end": window_end}
    scans = reader.load_many(
        SQL.facility_metrics, param="facility_ids", keys=facility_ids, key_column="facility_id", params=window
    )
    on_time = {
        row.key: row
        for row in delivery_performance(reader, window_start=window_start, window_end=window_end, group_by="facility")
    }
    out = []
    for fid in facility_ids:
        scan = (scans.get(fid) or [{}])[0]
        perf = on_time.get(fid)
        dwell = scan.get("average_dwell_hours")
        out.append(
            FacilityMetricsRecord(
                facility_id=fid,
                window_start=window_start,
                window_end=window_end,
                volume=int(scan.get("volume") or 0),
                average_dwell_hours=round(float(dwell), 2) if dwell is not None else None,
                deliveries=perf.deliveries if perf else 0,
                on_time_deliveries=perf.on_time_deliveries if perf else 0,
                on_time_percentage=perf.on_time_percentage if perf else None,
            )
        )
    return out


def load_history(reader: Reader, facility_ids: list[str]) -> list[list[dict[str, Any]]]:
    """SCD2 versions per facility; empty lists until gold's dim_facility exists."""
    rows = reader.query_optional(SQL.facility_history, {"facility_ids": sorted(set(facility_ids))})
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows or []:
        by_id.setdefault(row["facility_id"], []).append(row)
    return [by_id.get(fid, []) for fid in facility_ids]
