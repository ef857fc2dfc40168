"""The simulator's spine scenario: a small, fixed, seeded set of tracking events (JSON lines).

Three facilities, two carriers, three drivers; every shipment is delivered on the first
attempt; exactly one duplicate (producer retry) and one malformed line. Tests and the API
fixtures pin values derived from it (timelines, transit hours), so its output is frozen:
for realistic volumes, faults at configurable rates and a ground truth, run the network
simulation itself, :func:`pipeline.sources.simulator.simulate` (``logistics generate``).
Envelopes are written by the simulator's own :func:`~pipeline.sources.simulator.emit.envelope_line`.

Every payload is built through the generated Pydantic model of its contract, so the
generator cannot drift from the registry.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.generated.models import PAYLOAD_MODELS
from pipeline.sources.simulator.emit import envelope_line

_FACILITIES = [
    ("FAC-CHI", "Chicago Hub", "HUB", "MIDWEST", "Chicago", "IL", 41.88, -87.63),
    ("FAC-IND", "Indianapolis Depot", "DEPOT", "MIDWEST", "Indianapolis", "IN", 39.77, -86.16),
    ("FAC-DET", "Detroit Depot", "DEPOT", "MIDWEST", "Detroit", "MI", 42.33, -83.05),
]
_CARRIERS = ["CAR-ACME", "CAR-SWIFT"]
_NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov"]


@dataclass
class GeneratedBatch:
    lines: list[str]
    events: int = 0  # well-formed events (each distinct event once)
    duplicates: int = 0
    malformed: int = 0
    shipments: list[str] = field(default_factory=list)
    delivered: dict[str, dt.datetime] = field(default_factory=dict)  # shipment -> delivery time

    @property
    def records(self) -> int:
        return len(self.lines)


class _Emitter:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: list[str] = []

    def emit(self, subject: str, version: int, at: dt.datetime, payload: dict[str, Any]) -> str:
        model = PAYLOAD_MODELS[(subject, version)].model_validate(payload)
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        line = envelope_line(
            eid=event_id,
            subject=subject,
            version=version,
            time_text=at.isoformat().replace("+00:00", "Z"),
            source="generator",
            payload=model.model_dump(mode="json"),
        )
        self.lines.append(line)
        return line


def generate_events(*, shipments: int = 5, seed: int = 7, start: dt.datetime | None = None) -> GeneratedBatch:
    rng = random.Random(seed)
    start = start or dt.datetime(2024, 1, 15, 8, 0, tzinfo=dt.UTC)
    out = _Emitter(rng)
    delivered: dict[str, dt.datetime] = {}
    ids: list[str] = []

    for fid, name, kind, region, city, state, lat, lon in _FACILITIES:
        out.emit(
            "facility.created",
            1,
            start - dt.timedelta(days=30),
            {
                "facility_id": fid,
                "name": name,
                "facility_type": kind,
                "region": region,
                "address": {
                    "street": "1 Dock Rd",
                    "city": city,
                    "state": state,
                    "postal_code": "60601",
                    "country": "US",
                },
                "location": {"lat": lat, "lon": lon},
                "capacity_per_hour": 5000 if kind == "HUB" else 800,
                "timezone": "America/Chicago",
            },
        )
    drivers = [f"DRV-{i:03d}" for i in range(1, 4)]
    for i, driver in enumerate(drivers):
        out.emit(
            "driver.created",
            1,
            start - dt.timedelta(days=10),
            {
                "driver_id": driver,
                "carrier_id": _CARRIERS[i % 2],
                "name": _NAMES[i],
                "phone": f"+1-555-01{i:02d}",
                "home_facility_id": _FACILITIES[1 + i % 2][0],
                "vehicle_type": "VAN",
            },
        )

    for n in range(shipments):
        sid = f"SHP-{n + 1:04d}"
        ids.append(sid)
        carrier = _CARRIERS[n % 2]
        origin = _FACILITIES[0][0]
        dest = _FACILITIES[1 + n % 2][0]
        driver = drivers[n % len(drivers)]
        t0 = start + dt.timedelta(minutes=17 * n)
        customer = {
            "name": rng.choice(_NAMES),
            "email": f"customer{n}@example.com",
            "phone": f"+1-555-02{n:02d}",
            "address": {
                "street": f"{100 + n} Main St",
                "city": "Detroit",
                "state": "MI",
                "postal_code": "48201",
                "country": "US",
            },
        }
        created = {
            "shipment_id": sid,
            "tracking_number": f"1Z{rng.randrange(10**9):09d}",
            "origin_facility_id": origin,
            "destination_facility_id": dest,
            "carrier_id": carrier,
            "service_level": "GROUND",
            "weight_kg": round(rng.uniform(0.2, 20), 2),
            "expected_delivery": (t0 + dt.timedelta(hours=30)).isoformat(),
            "sender": {**customer, "name": "Parcel Shop"},
            "recipient": customer,
        }
        version = 2 if n % 2 else 1  # both contract versions flow side by side
        if version == 2:
            created |= {"package_count": 1 + n % 3, "signature_required": n % 4 == 1}
        out.emit("shipment.created", version, t0, created)
        t1 = t0 + dt.timedelta(hours=2, minutes=30)
        out.emit(
            "shipment.in_transit",
            1,
            t1,
            {"shipment_id": sid, "facility_id": origin, "next_facility_id": dest, "carrier_id": carrier},
        )
        t2 = t1 + dt.timedelta(hours=3)
        out.emit("shipment.in_transit", 1, t2, {"shipment_id": sid, "facility_id": dest, "carrier_id": carrier})
        t3 = t2 + dt.timedelta(hours=1)
        out.emit(
            "shipment.out_for_delivery",
            1,
            t3,
            {"shipment_id": sid, "facility_id": dest, "driver_id": driver, "carrier_id": carrier},
        )
        delivery = f"DLV-{n + 1:04d}"
        base = {"delivery_id": delivery, "shipment_id": sid, "facility_id": dest, "carrier_id": carrier}
        out.emit(
            "delivery.scheduled",
            1,
            t3,
            {
                **base,
                "driver_id": driver,
                "window_start": t3.isoformat(),
                "window_end": (t3 + dt.timedelta(hours=4)).isoformat(),
                "recipient": customer,
            },
        )
        t4 = t3 + dt.timedelta(minutes=rng.randrange(30, 180))
        out.emit(
            "delivery.attempted", 1, t4, {**base, "driver_id": driver, "attempt_number": 1, "outcome": "DELIVERED"}
        )
        t4 += dt.timedelta(minutes=2)  # signature capture after the attempt scan
        out.emit(
            "delivery.completed",
            1,
            t4,
            {**base, "driver_id": driver, "attempt_number": 1, "signed_by": customer["name"]},
        )
        out.emit(
            "shipment.delivered",
            1,
            t4,
            {
                "shipment_id": sid,
                "facility_id": dest,
                "driver_id": driver,
                "carrier_id": carrier,
                "signed_by": customer["name"],
            },
        )
        delivered[sid] = t4

    events = len(out.lines)
    lines = list(out.lines)
    lines.insert(len(lines) // 2, lines[len(lines) // 3])  # a producer retry: same event_id, same body
    lines.append('{"event_id": "broken-1", "event_type": "shipment.created", "payload": {')  # truncated write
    return GeneratedBatch(lines=lines, events=events, duplicates=1, malformed=1, shipments=ids, delivered=delivered)


def write_jsonl(batch: GeneratedBatch, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(batch.lines) + "\n", encoding="utf-8")
    return path
