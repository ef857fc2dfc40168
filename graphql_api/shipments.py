"""Shipment reads from silver: the timeline, status, transit time, deliveries, and pages of shipments."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from graphql_api.queries import SQL
from graphql_api.reader import Reader, payload_of

# The status a shipment is in after each event type, in lifecycle order: events with the
# same timestamp are listed in this order (a signature is captured before the hand-over scan).
# shipment_page.sql applies the same rule in SQL; a test holds the two together.
STATUS_AFTER = {
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
_LIFECYCLE_RANK = {event_type: rank for rank, event_type in enumerate(STATUS_AFTER)}
_TERMINAL_DELIVERY_EVENTS = frozenset({"delivery.completed", "delivery.failed"})
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
END_OF_TIME = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


@dataclass(frozen=True)
class TimelineEntry:
    event_id: str
    event_type: str
    time: dt.datetime
    facility_id: str | None
    carrier_id: str | None
    delivery_id: str | None
    driver_id: str | None
    payload: dict[str, Any]
    sealed: str | None = None  # pii_sealed: precise values of generalized fields (see graphql_api.precise)


@dataclass(frozen=True)
class DeliveryRecord:
    delivery_id: str
    shipment_id: str
    events: list[TimelineEntry]

    def _latest(self, attribute: str) -> str | None:
        values = [getattr(e, attribute) for e in self.events if getattr(e, attribute)]
        return values[-1] if values else None

    @property
    def facility_id(self) -> str | None:
        return self._latest("facility_id")

    @property
    def carrier_id(self) -> str | None:
        return self._latest("carrier_id")

    @property
    def driver_id(self) -> str | None:
        return self._latest("driver_id")

    @property
    def status(self) -> str:
        return self.events[-1].event_type.removeprefix("delivery.")

    @property
    def is_open(self) -> bool:
        return not any(e.event_type in _TERMINAL_DELIVERY_EVENTS for e in self.events)

    def first(self, event_type: str) -> TimelineEntry | None:
        return next((e for e in self.events if e.event_type == event_type), None)

    def all(self, event_type: str) -> list[TimelineEntry]:
        return [e for e in self.events if e.event_type == event_type]


@dataclass(frozen=True)
class ShipmentRecord:
    shipment_id: str
    events: list[TimelineEntry]  # oldest first
    deliveries: list[DeliveryRecord] = field(default_factory=list)

    @property
    def booking(self) -> TimelineEntry | None:
        created = [e for e in self.events if e.event_type == "shipment.created"]
        return created[-1] if created else None

    @property
    def current_status(self) -> str:
        status = "unknown"
        for event in self.events:
            status = STATUS_AFTER.get(event.event_type, status)
            if status == "delivered":
                break
        return status

    @property
    def created_at(self) -> dt.datetime | None:
        return next((e.time for e in self.events if e.event_type == "shipment.created"), None)

    @property
    def delivered_at(self) -> dt.datetime | None:
        return next((e.time for e in self.events if STATUS_AFTER.get(e.event_type) == "delivered"), None)

    @property
    def total_transit_hours(self) -> float | None:
        """Created -> delivered, in hours (None until both happened)."""
        if self.created_at is None or self.delivered_at is None:
            return None
        return round((self.delivered_at - self.created_at).total_seconds() / 3600, 2)

    @property
    def current_facility_id(self) -> str | None:
        """Where the parcel was last scanned."""
        return next((e.facility_id for e in reversed(self.events) if e.facility_id), None)


def build_shipment(shipment_id: str, rows: list[dict[str, Any]]) -> ShipmentRecord | None:
    if not rows:
        return None
    entries = [
        TimelineEntry(
            event_id=r["event_id"],
            event_type=r["event_type"],
            time=r["event_time"],
            facility_id=r["facility_id"],
            carrier_id=r["carrier_id"],
            delivery_id=r["delivery_id"],
            driver_id=r["driver_id"],
            payload=payload_of(r),
            sealed=r.get("pii_sealed"),
        )
        for r in rows
    ]
    entries.sort(key=lambda e: (e.time, _LIFECYCLE_RANK.get(e.event_type, len(_LIFECYCLE_RANK)), e.event_id))
    by_delivery: dict[str, list[TimelineEntry]] = {}
    for entry in entries:
        if entry.delivery_id:
            by_delivery.setdefault(entry.delivery_id, []).append(entry)
    deliveries = [DeliveryRecord(delivery_id=d, shipment_id=shipment_id, events=evs) for d, evs in by_delivery.items()]
    return ShipmentRecord(shipment_id=shipment_id, events=entries, deliveries=deliveries)


def load_shipments(reader: Reader, shipment_ids: list[str]) -> list[ShipmentRecord | None]:
    rows = reader.load_many(SQL.shipment_events, param="shipment_ids", keys=shipment_ids, key_column="shipment_id")
    return [build_shipment(sid, rows.get(sid, [])) for sid in shipment_ids]


def fetch_shipment(reader: Reader, shipment_id: str) -> ShipmentRecord | None:
    return load_shipments(reader, [shipment_id])[0]


# -- pagination ---------------------------------------------------------------------------


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True)
class ShipmentFilterValues:
    status: str | None = None
    facility_id: str | None = None
    carrier_id: str | None = None
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None


@dataclass(frozen=True)
class PageRow:
    shipment_id: str
    created_at: dt.datetime
    status: str
    cursor: str


def encode_cursor(created_at: dt.datetime, shipment_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{shipment_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """Opaque cursors are still input: anything that is not one of ours is a clear error."""
    try:
        created, _, shipment_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        when = dt.datetime.fromisoformat(created)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursorError(f"invalid cursor {cursor[:40]!r}: pass an endCursor this API returned") from None
    if not shipment_id or when.tzinfo is None:
        raise InvalidCursorError(f"invalid cursor {cursor[:40]!r}: pass an endCursor this API returned")
    return when, shipment_id


def shipment_page(
    reader: Reader, *, filters: ShipmentFilterValues, first: int, after: str | None
) -> tuple[list[PageRow], bool]:
    """One page and whether another follows (one extra row is read to know)."""
    after_time, after_id = decode_cursor(after) if after else (EPOCH - dt.timedelta(days=1), "")
    rows = reader.query(
        SQL.shipment_page,
        {
            "status": filters.status or "",
            "facility_id": filters.facility_id or "",
            "carrier_id": filters.carrier_id or "",
            "created_from": filters.created_from or EPOCH,
            "created_to": filters.created_to or END_OF_TIME,
            "after_time": after_time,
            "after_id": after_id,
            "page_limit": first + 1,
        },
    )
    page = [
        PageRow(
            shipment_id=r["shipment_id"],
            created_at=r["created_at"],
            status=r["status"],
            cursor=encode_cursor(r["created_at"], r["shipment_id"]),
        )
        for r in rows[:first]
    ]
    return page, len(rows) > first


def timeline_response(record: ShipmentRecord) -> dict[str, Any]:
    """The REST shape of ``GET /api/v1/shipments/{id}/timeline`` (docs/api.md)."""
    return {
        "shipment_id": record.shipment_id,
        "events": [
            {"event_type": e.event_type, "time": e.time.isoformat().replace("+00:00", "Z")} for e in record.events
        ],
        "current_status": record.current_status,
        "total_transit_hours": record.total_transit_hours,
    }
