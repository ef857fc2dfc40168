"""The processes of the network, each a generator of events in its own time order.

An event is ``(epoch_seconds, subject, version, payload)``. A shipment's journey is generated
lazily, one event at a time, so the simulator holds one pending event per shipment in flight,
never a whole run:

    booked at its origin hub -> line-haul scans (via the destination region's hub)
    -> destination depot -> out for delivery (driver GPS pings on the approach)
    -> attempts: failed ones are rescheduled to the next day, three failures return it
    -> delivered, or an exception (lost, damaged, returned) instead.

The promise (``expected_delivery``) is made at booking from the nominal schedule; a carrier's
``delay_rate`` of line-hauls and its failed doorstep attempts make some deliveries late.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from pipeline.sources.simulator.config import CarrierProfile, SimulationConfig
from pipeline.sources.simulator.emit import Clock, Rng
from pipeline.sources.simulator.network import Driver, Facility, Network, person, route_position, street
from pipeline.sources.simulator.truth import GroundTruth

Event = tuple[int, str, int, dict[str, Any]]

DAY = 86_400
HOUR = 3_600
SHIFT_START = 8 * HOUR  # delivery shifts run 08:00-18:00 UTC
SHIFT_SECONDS = 10 * HOUR
MAX_ATTEMPTS = 3
_SLACK_DAYS = {"GROUND": 1, "EXPRESS": 0, "OVERNIGHT": 0}  # promise = nominal delivery day + slack
_FAILURES = ("RECIPIENT_ABSENT", "RECIPIENT_ABSENT", "NO_ACCESS", "REFUSED", "ADDRESS_NOT_FOUND")
_RETURN_CODE = {"REFUSED": "REFUSED", "ADDRESS_NOT_FOUND": "ADDRESS_ISSUE"}
_CAPACITY_REASONS = ("peak season extra shift", "sorter maintenance", "weather closure", "new conveyor line")


def _point(lat: float, lon: float) -> dict[str, float]:
    return {"lat": lat, "lon": lon}


def _address(facility: Facility, street_line: str) -> dict[str, Any]:
    return {
        "street": street_line,
        "city": facility.city,
        "state": facility.state,
        "postal_code": facility.postal_code,
        "country": "US",
    }


def onboarding(network: Network, start: int) -> Iterator[Event]:
    """Facilities join 30 days and drivers 10 days before the run, as in the spine scenario (``spine.py``)."""
    for i, f in enumerate(network.facilities):
        yield (
            start - 30 * DAY + 60 * i,
            "facility.created",
            1,
            {
                "facility_id": f.facility_id,
                "name": f.name,
                "facility_type": f.kind,
                "region": f.region,
                "address": _address(f, f"{100 + i} Dock Rd"),
                "location": _point(f.lat, f.lon),
                "capacity_per_hour": f.capacity_per_hour,
                "timezone": f.timezone,
            },
        )
    for i, d in enumerate(network.drivers):
        yield (
            start - 10 * DAY + 60 * i,
            "driver.created",
            1,
            {
                "driver_id": d.driver_id,
                "carrier_id": d.carrier_id,
                "name": d.name,
                "phone": d.phone,
                "home_facility_id": d.home_facility_id,
                "vehicle_type": d.vehicle_type,
            },
        )


def capacity_changes(network: Network, config: SimulationConfig, rng: Rng, start: int) -> Iterator[Event]:
    """Now and then a facility's sorting capacity changes (a random walk around its design capacity)."""
    if config.capacity_changes_per_day <= 0:
        return
    capacity = {f.facility_id: f.capacity_per_hour for f in network.facilities}
    mean_gap = DAY / config.capacity_changes_per_day
    at = start + rng.expovariate(1 / mean_gap)
    end = start + config.days * DAY
    while at < end:
        facility = rng.pick(network.facilities)
        previous = capacity[facility.facility_id]
        design = facility.capacity_per_hour
        capacity[facility.facility_id] = max(50, int(design * rng.uniform(0.6, 1.4)))
        yield (
            int(at),
            "facility.capacity_changed",
            1,
            {
                "facility_id": facility.facility_id,
                "previous_capacity_per_hour": previous,
                "capacity_per_hour": capacity[facility.facility_id],
                "reason": rng.pick(_CAPACITY_REASONS),
            },
        )
        at += rng.expovariate(1 / mean_gap)


def bookings(config: SimulationConfig, rng: Rng, start: int) -> Iterator[int]:
    """Booking times, in order: spread over the days, most of them in business hours."""
    weights = [0.2 if h < 6 or h >= 22 else 1.5 if 9 <= h < 18 else 0.8 for h in range(24)]
    total_weight = sum(weights)
    base, extra = divmod(config.shipments, config.days)
    for day in range(config.days):
        quota = base + (1 if day < extra else 0)
        # Largest-remainder split of the day's quota over its hours: exact, no shipment lost.
        raw = [quota * w / total_weight for w in weights]
        counts = [int(r) for r in raw]
        for h in sorted(range(24), key=lambda h: raw[h] - counts[h], reverse=True)[: quota - sum(counts)]:
            counts[h] += 1
        for hour, count in enumerate(counts):
            hour_start = start + day * DAY + hour * HOUR
            yield from sorted(hour_start + rng.between(0, HOUR) for _ in range(count))


class Journeys:
    """Creates each shipment's journey; records the outcomes in the ground truth as they happen."""

    def __init__(self, *, config: SimulationConfig, network: Network, rng: Rng, truth: GroundTruth) -> None:
        self.config = config
        self.network = network
        self.rng = rng
        self.truth = truth
        self.clock = Clock()
        self.hubs = {f.facility_id: f for f in network.hubs}
        self.hub_list = network.hubs
        self.depots = network.depots
        self.carriers = config.carriers

    def shipment(self, n: int, t0: int) -> Iterator[Event]:
        rng, iso = self.rng, self.clock.iso
        sid = f"SHP-{n:04d}"
        carrier: CarrierProfile = self.carriers[rng.between(0, len(self.carriers))]
        cid = carrier.carrier_id
        dest = rng.pick(self.depots)
        # 60% of parcels stay in their region; the rest are booked at any hub (their own region's, too).
        origin = self.hubs[dest.hub_id] if rng.random() < 0.6 else rng.pick(self.hub_list)
        dest_hub = self.hubs[dest.hub_id]
        draw = rng.random()  # GROUND 75 %, EXPRESS 20 %, OVERNIGHT 5 %
        service = "GROUND" if draw < 0.75 else "EXPRESS" if draw < 0.95 else "OVERNIGHT"
        truth = self.truth.carrier(cid)
        truth.shipments += 1

        # The nominal schedule, from which the promise is made.
        t_origin_scan = t0 + rng.between(HOUR, 4 * HOUR)
        linehaul = _linehaul_seconds(origin, dest_hub) if origin is not dest_hub else 0
        t_hub_scan = t_origin_scan + linehaul
        t_depot = t_hub_scan + rng.between(2 * HOUR, 5 * HOUR)
        nominal_day = _delivery_day(t_depot)
        promise_day = nominal_day + _SLACK_DAYS[service]
        expected = promise_day * DAY + 21 * HOUR
        delayed = rng.random() < carrier.delay_rate
        if delayed:  # a late truck: the parcel reaches the depot after the promised day
            slip = (promise_day - nominal_day + 1 + rng.between(0, 2)) * DAY + rng.between(0, 6 * HOUR)
            t_hub_scan += slip if linehaul else 0
            t_depot += slip
        terminal_exception = rng.random() < self.config.exception_rate

        recipient_name, email, phone = person(rng, n)
        recipient: dict[str, Any] = {
            "name": recipient_name,
            "email": email if rng.random() < 0.9 else None,
            "phone": phone if rng.random() < 0.85 else None,
            "address": _address(dest, street(rng)),
        }
        sender_name, sender_email, sender_phone = person(rng, n)
        sender = {
            "name": sender_name,
            "email": sender_email,
            "phone": sender_phone,
            "address": _address(origin, street(rng)),
        }
        if len(self.truth.pii_samples) < 12:
            self.truth.pii_samples.extend(
                v for v in (recipient_name, email, phone, recipient["address"]["street"]) if v
            )
        created: dict[str, Any] = {
            "shipment_id": sid,
            "tracking_number": f"1Z{n:07d}{rng.between(0, 10**5):05d}",
            "origin_facility_id": origin.facility_id,
            "destination_facility_id": dest.facility_id,
            "carrier_id": cid,
            "service_level": service,
            "weight_kg": round(rng.uniform(0.2, 30), 2),
            "expected_delivery": iso(expected),
            "sender": sender,
            "recipient": recipient,
        }
        version = 1 if rng.random() < self.config.faults.old_version else 2
        if version == 2:
            created["package_count"] = 1 if rng.random() < 0.85 else rng.between(2, 6)
            created["signature_required"] = rng.random() < 0.2
        else:
            self.truth.faults["old_version"] += 1
        yield t0, "shipment.created", version, created

        next_hop = dest_hub if linehaul else dest
        yield t_origin_scan, "shipment.in_transit", 1, self._scan(sid, cid, origin, next_hop)
        if delayed and rng.random() < 0.5:
            yield (
                t_origin_scan + rng.between(HOUR, 3 * HOUR),
                "shipment.exception",
                1,
                {
                    "shipment_id": sid,
                    "facility_id": origin.facility_id,
                    "carrier_id": cid,
                    "exception_code": "WEATHER_DELAY",
                    "description": "line-haul held by weather",
                },
            )
        if terminal_exception and rng.random() < 0.5:  # lost or damaged in line-haul
            truth.exceptions += 1
            yield self._lost(sid, cid, origin, t_origin_scan + rng.between(HOUR, 6 * HOUR))
            return
        if linehaul:
            yield t_hub_scan, "shipment.in_transit", 1, self._scan(sid, cid, dest_hub, dest)
        yield t_depot, "shipment.in_transit", 1, self._scan(sid, cid, dest, None)
        if terminal_exception:  # damaged at the depot
            truth.exceptions += 1
            yield self._lost(sid, cid, dest, t_depot + rng.between(HOUR, 3 * HOUR))
            return

        driver: Driver = rng.pick(self.network.crews[dest.facility_id][cid])
        delivery = {
            "delivery_id": f"DLV-{n:04d}",
            "shipment_id": sid,
            "facility_id": dest.facility_id,
            "carrier_id": cid,
        }
        day = _delivery_day(t_depot)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            t_out = day * DAY + SHIFT_START + rng.between(0, 90 * 60)
            route_id = f"RTE-{dest.facility_id[4:]}-{day}-{driver.driver_id[4:]}"
            yield (
                t_out,
                "shipment.out_for_delivery",
                1,
                {
                    "shipment_id": sid,
                    "facility_id": dest.facility_id,
                    "driver_id": driver.driver_id,
                    "carrier_id": cid,
                    "route_id": route_id,
                },
            )
            if attempt == 1:
                yield (
                    t_out,
                    "delivery.scheduled",
                    1,
                    {
                        **delivery,
                        "driver_id": driver.driver_id,
                        "window_start": iso(t_out),
                        "window_end": iso(t_out + 4 * HOUR),
                        "recipient": recipient,
                    },
                )
            t_attempt = t_out + rng.between(30 * 60, SHIFT_SECONDS - 2 * HOUR)
            yield from self._approach(driver, dest, route_id, t_out, t_attempt, day)
            stop = _point(*route_position(driver, dest, t_attempt - day * DAY - SHIFT_START, SHIFT_SECONDS)[:2])
            failed = rng.random() < carrier.failed_attempt_rate
            outcome = rng.pick(_FAILURES) if failed else "DELIVERED"
            attempt_body = {**delivery, "driver_id": driver.driver_id, "attempt_number": attempt}
            yield t_attempt, "delivery.attempted", 1, {**attempt_body, "outcome": outcome, "location": stop}
            if not failed:
                t_done = t_attempt + 120  # signature capture after the attempt scan
                signed_by = recipient_name if rng.random() < 0.8 else None
                yield t_done, "delivery.completed", 1, {**attempt_body, "signed_by": signed_by}
                yield (
                    t_done,
                    "shipment.delivered",
                    1,
                    {
                        "shipment_id": sid,
                        "facility_id": dest.facility_id,
                        "driver_id": driver.driver_id,
                        "carrier_id": cid,
                        "signed_by": signed_by,
                        "location": stop,
                    },
                )
                on_time = t_done <= expected
                truth.delivered += 1
                self.truth.delivered_per_day[iso(t_done)[:10]] += 1
                self.truth.delivery_outcome(carrier_id=cid, day=iso(t_done)[:10], completed=True, on_time=on_time)
                return
            truth.failed_attempts += 1
            will_retry = attempt < MAX_ATTEMPTS
            t_failed = t_attempt + rng.between(60, 180)
            yield t_failed, "delivery.failed", 1, {**attempt_body, "reason": outcome, "will_retry": will_retry}
            if not will_retry:
                truth.exceptions += 1
                self.truth.delivery_outcome(carrier_id=cid, day=iso(t_failed)[:10], completed=False, on_time=False)
                yield (
                    t_failed + 300,
                    "shipment.exception",
                    1,
                    {
                        "shipment_id": sid,
                        "facility_id": dest.facility_id,
                        "carrier_id": cid,
                        "exception_code": _RETURN_CODE.get(outcome, "OTHER"),
                        "description": f"returned to sender after {MAX_ATTEMPTS} failed attempts",
                    },
                )
                return
            day += 1
            window = day * DAY + 9 * HOUR
            yield (
                t_failed + rng.between(10 * 60, 2 * HOUR),
                "delivery.rescheduled",
                1,
                {
                    **delivery,
                    "window_start": iso(window),
                    "window_end": iso(window + 4 * HOUR),
                    "requested_by": "RECIPIENT" if rng.random() < 0.4 else "CARRIER",
                },
            )

    def _scan(self, sid: str, cid: str, at: Facility, next_hop: Facility | None) -> dict[str, Any]:
        return {
            "shipment_id": sid,
            "facility_id": at.facility_id,
            "next_facility_id": next_hop.facility_id if next_hop else None,
            "carrier_id": cid,
            "vehicle_id": f"TRK-{at.facility_id[4:]}-{self.rng.between(1, 40):02d}",
            "scan_location": _point(at.lat, at.lon),
        }

    def _lost(self, sid: str, cid: str, at: Facility, when: int) -> Event:
        code = self.rng.pick(("LOST", "DAMAGED"))
        return (
            when,
            "shipment.exception",
            1,
            {
                "shipment_id": sid,
                "facility_id": at.facility_id,
                "carrier_id": cid,
                "exception_code": code,
                "description": "parcel not found at scan" if code == "LOST" else "parcel crushed in sort",
            },
        )

    def _approach(
        self, driver: Driver, depot: Facility, route_id: str, t_out: int, t_attempt: int, day: int
    ) -> Iterator[Event]:
        """GPS pings along the driver's loop for the last stretch before the stop."""
        interval = self.config.ping_interval_minutes * 60
        shift_start = day * DAY + SHIFT_START
        at = max(t_out, t_attempt - 45 * 60) + self.rng.between(0, interval)
        while at < t_attempt:
            lat, lon, heading = route_position(driver, depot, at - shift_start, SHIFT_SECONDS)
            yield (
                at,
                "driver.location_updated",
                1,
                {
                    "driver_id": driver.driver_id,
                    "location": _point(lat, lon),
                    "speed_kmh": round(self.rng.uniform(0, 55), 1),
                    "heading_deg": heading,
                    "route_id": route_id,
                },
            )
            at += interval


def _delivery_day(t_depot: int) -> int:
    """Parcels at the depot before 07:00 go out that day; later ones the next morning."""
    day, into = divmod(t_depot, DAY)
    return day if into < 7 * HOUR else day + 1


def _linehaul_seconds(a: Facility, b: Facility) -> int:
    """A truck at ~70 km/h on the great-circle distance, plus two hours of dock time."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    km = 2 * 6371 * math.asin(math.sqrt(h))
    return int(km / 70 * HOUR) + 2 * HOUR
