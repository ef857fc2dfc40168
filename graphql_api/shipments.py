"""Shipment reads: the timeline, its status and transit time, from silver."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from logistics.warehouse import Warehouse, sql_file

_TIMELINE_SQL = sql_file(Path(__file__).resolve().parent / "sql" / "shipment_timeline.sql")

# The status a shipment is in after each event type, in lifecycle order: events with the
# same timestamp are listed in this order (a signature is captured before the hand-over scan).
_STATUS_AFTER = {
    "shipment.created": "created",
    "shipment.in_transit": "in_transit",
    "shipment.out_for_delivery": "out_for_delivery",
    "delivery.attempted": "out_for_delivery",
    "delivery.failed": "delivery_failed",
    "delivery.rescheduled": "delivery_rescheduled",
    "shipment.exception": "exception",
    "delivery.completed": "delivered",
    "shipment.delivered": "delivered",
}
_LIFECYCLE_RANK = {event_type: rank for rank, event_type in enumerate(_STATUS_AFTER)}


@dataclass(frozen=True)
class TimelineEntry:
    event_id: str
    event_type: str
    time: dt.datetime
    facility_id: str | None


@dataclass(frozen=True)
class ShipmentTimeline:
    shipment_id: str
    events: list[TimelineEntry]

    @property
    def current_status(self) -> str:
        status = "unknown"
        for event in self.events:
            status = _STATUS_AFTER.get(event.event_type, status)
            if status == "delivered":
                break
        return status

    @property
    def total_transit_hours(self) -> float | None:
        """Created -> delivered, in hours (None until both happened)."""
        created = next((e.time for e in self.events if e.event_type == "shipment.created"), None)
        delivered = next((e.time for e in self.events if _STATUS_AFTER.get(e.event_type) == "delivered"), None)
        if created is None or delivered is None:
            return None
        return round((delivered - created).total_seconds() / 3600, 2)


def fetch_timeline(warehouse: Warehouse, shipment_id: str) -> ShipmentTimeline | None:
    rows = warehouse.query(_TIMELINE_SQL, {"shipment_id": shipment_id})
    if not rows:
        return None
    entries = [
        TimelineEntry(
            event_id=r["event_id"], event_type=r["event_type"], time=r["event_time"], facility_id=r["facility_id"]
        )
        for r in rows
    ]
    entries.sort(key=lambda e: (e.time, _LIFECYCLE_RANK.get(e.event_type, len(_LIFECYCLE_RANK))))
    return ShipmentTimeline(shipment_id=shipment_id, events=entries)
