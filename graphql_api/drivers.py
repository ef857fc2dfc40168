"""Driver and carrier reads: profiles, last GPS position, current assignment, carrier rosters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from graphql_api.queries import SQL
from graphql_api.reader import Reader, payload_of

_TERMINAL = frozenset({"delivery.completed", "delivery.failed"})


@dataclass(frozen=True)
class DriverRecord:
    driver_id: str
    profile: dict[str, Any]  # the latest driver.created payload
    last_location: dict[str, Any] | None  # the latest driver.location_updated payload
    last_location_time: dt.datetime | None
    last_location_sealed: str | None = None  # its precise position, sealed (see graphql_api.precise)


@dataclass(frozen=True)
class Assignment:
    delivery_id: str
    shipment_id: str


def build_driver(driver_id: str, rows: list[dict[str, Any]]) -> DriverRecord | None:
    created = [r for r in rows if r["event_type"] == "driver.created"]
    if not created:
        return None
    pings = [r for r in rows if r["event_type"] == "driver.location_updated"]
    return DriverRecord(
        driver_id=driver_id,
        profile=payload_of(created[-1]),
        last_location=payload_of(pings[-1]) if pings else None,
        last_location_time=pings[-1]["event_time"] if pings else None,
        last_location_sealed=pings[-1].get("pii_sealed") if pings else None,
    )


def load_drivers(reader: Reader, driver_ids: list[str]) -> list[DriverRecord | None]:
    rows = reader.load_many(SQL.driver_events, param="driver_ids", keys=driver_ids, key_column="driver_id")
    return [build_driver(did, rows.get(did, [])) for did in driver_ids]


def load_assignments(reader: Reader, driver_ids: list[str]) -> list[Assignment | None]:
    """The newest delivery each driver holds that is not completed or failed yet."""
    rows = reader.load_many(SQL.driver_deliveries, param="driver_ids", keys=driver_ids, key_column="driver_id")
    out: list[Assignment | None] = []
    for did in driver_ids:
        closed = {r["delivery_id"] for r in rows.get(did, []) if r["event_type"] in _TERMINAL}
        current = next((r for r in rows.get(did, []) if r["delivery_id"] not in closed), None)
        out.append(Assignment(current["delivery_id"], current["shipment_id"]) if current else None)
    return out


def load_carrier_drivers(reader: Reader, carrier_ids: list[str]) -> list[list[str]]:
    rows = reader.load_many(SQL.carrier_drivers, param="carrier_ids", keys=carrier_ids, key_column="carrier_id")
    return [[r["driver_id"] for r in rows.get(cid, [])] for cid in carrier_ids]


def load_carriers_seen(reader: Reader, carrier_ids: list[str]) -> list[bool]:
    rows = reader.load_many(SQL.carriers, param="carrier_ids", keys=carrier_ids, key_column="carrier_id")
    return [bool(rows.get(cid)) for cid in carrier_ids]


def load_carrier_names(reader: Reader, carrier_ids: list[str]) -> list[str | None]:
    """Names from gold's dim_carrier (None until it exists or when it lacks the carrier)."""
    rows = reader.query_optional(SQL.carrier_names, {"carrier_ids": sorted(set(carrier_ids))})
    names = {r["carrier_id"]: r["name"] for r in rows or []}
    return [names.get(cid) for cid in carrier_ids]
