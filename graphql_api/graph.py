"""The shipment graph's GraphQL types. Payload-shaped types are derived from the contract models."""

# The payload-shaped types subclass classes built at import time from the contract models
# (contract_types.contract_fields); mypy cannot follow dynamic bases, hence "misc" is off here.
# mypy: disable-error-code="misc"

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

import strawberry
from strawberry.permission import PermissionExtension
from strawberry.types import Info

from contracts.generated.models import (
    DeliveryAttemptedV1,
    DeliveryScheduledV1,
    DriverCreatedV1,
    DriverLocationUpdatedV1,
    FacilityCreatedV1,
    ShipmentCreatedV2,
    facility_created_v1,
    shipment_created_v2,
)
from graphql_api import analytics
from graphql_api import facilities as facility_reads
from graphql_api.auth import READ_PII, RequiresScope
from graphql_api.context import RequestContext
from graphql_api.contract_types import contract_fields, from_payload, generalized_fields, pii_fields
from graphql_api.drivers import DriverRecord
from graphql_api.precise import payload_for
from graphql_api.shipments import DeliveryRecord, ShipmentRecord, TimelineEntry

Ctx = Info[RequestContext, None]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
END_OF_TIME = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


def _pii_guard() -> list[Any]:
    return [PermissionExtension(permissions=[RequiresScope(READ_PII)], fail_silently=False)]


# -- payload-shaped types (derived, never hand-copied) ---------------------------------------

# PII rules name paths inside each subject; a Customer is PII the same way wherever it appears.
_CUSTOMER_PII = (
    pii_fields("shipment.created", "sender")
    | pii_fields("shipment.created", "recipient")
    | pii_fields("delivery.scheduled", "recipient")
)
_CUSTOMER_ADDRESS_PII = (
    pii_fields("shipment.created", "sender.address")
    | pii_fields("shipment.created", "recipient.address")
    | pii_fields("delivery.scheduled", "recipient.address")
)
_CUSTOMER_ADDRESS_GENERALIZED = (
    generalized_fields("shipment.created", "sender.address")
    | generalized_fields("shipment.created", "recipient.address")
    | generalized_fields("delivery.scheduled", "recipient.address")
)


def revealed(info: Ctx, entry: TimelineEntry) -> Any:
    """A silver event's payload as this caller may see it (precise generalized fields for read:pii)."""
    context = info.context
    return payload_for(
        context.principal, context.revealer, subject=entry.event_type, payload=entry.payload, sealed=entry.sealed
    )


@strawberry.type(description="A WGS84 position.")
class GeoPoint(contract_fields(facility_created_v1.GeoPoint)):
    pass


@strawberry.type(description="A facility's postal address.")
class Address(contract_fields(facility_created_v1.Address)):
    pass


@strawberry.type(description="A customer's postal address; the street is personal data.")
class CustomerAddress(
    contract_fields(shipment_created_v2.Address, pii=_CUSTOMER_ADDRESS_PII, generalized=_CUSTOMER_ADDRESS_GENERALIZED)
):
    pass


@strawberry.type(description="A sender or recipient; name, email and phone need the read:pii scope.")
class Customer(contract_fields(shipment_created_v2.Customer, nested={"address": CustomerAddress}, pii=_CUSTOMER_PII)):
    pass


@strawberry.type(description="The shipment.created payload (latest contract version), as booked.")
class ShipmentBooking(
    contract_fields(
        ShipmentCreatedV2,
        nested={"sender": Customer, "recipient": Customer},
        pii=pii_fields("shipment.created"),
    )
):
    pass


@strawberry.type(description="The delivery.scheduled payload: the planned trip to the door.")
class DeliverySchedule(
    contract_fields(DeliveryScheduledV1, nested={"recipient": Customer}, pii=pii_fields("delivery.scheduled"))
):
    pass


@strawberry.type(description="A delivery.attempted payload and when it happened.")
class DeliveryAttempt(
    contract_fields(
        DeliveryAttemptedV1,
        nested={"location": GeoPoint},
        pii=pii_fields("delivery.attempted"),
        generalized=generalized_fields("delivery.attempted"),
    )
):
    time: dt.datetime


@strawberry.type(description="A driver.location_updated payload and when it was sent.")
class DriverLocation(
    contract_fields(
        DriverLocationUpdatedV1,
        nested={"location": GeoPoint},
        pii=pii_fields("driver.location_updated"),
        generalized=generalized_fields("driver.location_updated"),
    )
):
    time: dt.datetime


# -- graph types ---------------------------------------------------------------------------


@strawberry.enum(description="Where a shipment is in its lifecycle, after its latest event.")
class ShipmentStatus(enum.Enum):
    CREATED = "created"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERY_RESCHEDULED = "delivery_rescheduled"
    EXCEPTION = "exception"
    DELIVERED = "delivered"
    UNKNOWN = "unknown"


@strawberry.experimental.pydantic.type(
    model=facility_reads.FacilityMetricsRecord,
    all_fields=True,
    description="Facility KPIs over a time window, from silver (on-time from gold when built).",
)
class FacilityMetrics:
    facility_id: strawberry.ID


@strawberry.type(description="One SCD2 version of a facility, from gold's dim_facility.")
class FacilityVersion:
    name: str | None
    facility_type: str | None
    region: str | None
    capacity_per_hour: int | None
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None = strawberry.field(description="Null while this version is current.")
    is_current: bool


@strawberry.type(description="A hub, depot, sort center or locker: its latest profile from silver.")
class Facility(
    contract_fields(
        FacilityCreatedV1,
        nested={"address": Address, "location": GeoPoint},
        pii=pii_fields("facility.created"),
        exclude=("capacity_per_hour",),
    )
):
    capacity_per_hour: int = strawberry.field(description="Parcels per hour, after the latest capacity change.")

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.facility_id)

    @strawberry.field(description="Volume, dwell time and on-time % over [from, to) (default: all time).")
    async def metrics(
        self,
        info: Ctx,
        from_: Annotated[dt.datetime | None, strawberry.argument(name="from")] = None,
        to: dt.datetime | None = None,
    ) -> FacilityMetrics:
        record = await info.context.loaders.facility_metrics.load((self.facility_id, from_ or EPOCH, to or END_OF_TIME))
        return FacilityMetrics.from_pydantic(record)

    @strawberry.field(description="SCD2 versions from gold, oldest first; empty until dim_facility is built.")
    async def history(self, info: Ctx) -> list[FacilityVersion]:
        rows = await info.context.loaders.facility_history.load(self.facility_id)
        return [
            FacilityVersion(
                name=r.get("name"),
                facility_type=r.get("facility_type"),
                region=r.get("region"),
                capacity_per_hour=r.get("capacity_per_hour"),
                valid_from=r.get("valid_from"),
                valid_to=r.get("valid_to"),
                is_current=bool(r.get("is_current")),
            )
            for r in rows
        ]


async def load_facility(info: Ctx, facility_id: str | None) -> Facility | None:
    if not facility_id:
        return None
    record = await info.context.loaders.facility.load(facility_id)
    if record is None:
        return None
    facility: Facility = from_payload(Facility, record.profile, capacity_per_hour=record.capacity_per_hour)
    return facility


@strawberry.type(description="A carrier; its name comes from gold's dim_carrier once built.")
class Carrier:
    id: strawberry.ID

    @strawberry.field
    async def name(self, info: Ctx) -> str | None:
        return await info.context.loaders.carrier_name.load(str(self.id))

    @strawberry.field(description="Drivers the carrier onboarded.")
    async def drivers(self, info: Ctx) -> list[Driver]:
        ids = await info.context.loaders.carrier_drivers.load(str(self.id))
        found = await info.context.loaders.driver.load_many(ids)
        return [driver_from(record) for record in found if record is not None]


@strawberry.type(description="A driver: the driver.created payload (name and phone need read:pii) plus the graph.")
class Driver(contract_fields(DriverCreatedV1, pii=pii_fields("driver.created"))):
    record: strawberry.Private[DriverRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.driver_id)

    @strawberry.field
    def carrier(self) -> Carrier:
        return Carrier(id=strawberry.ID(self.carrier_id))

    @strawberry.field
    async def home_facility(self, info: Ctx) -> Facility | None:
        return await load_facility(info, self.home_facility_id)

    @strawberry.field(description="The latest GPS ping, if the driver's device sent any.")
    def last_location(self, info: Ctx) -> DriverLocation | None:
        record = self.record
        if record.last_location is None or record.last_location_time is None:
            return None
        payload = payload_for(
            info.context.principal,
            info.context.revealer,
            subject="driver.location_updated",
            payload=record.last_location,
            sealed=record.last_location_sealed,
        )
        location: DriverLocation = from_payload(DriverLocation, payload, time=record.last_location_time)
        return location

    @strawberry.field(description="The newest delivery the driver holds that is neither completed nor failed.")
    async def current_assignment(self, info: Ctx) -> Delivery | None:
        assignment = await info.context.loaders.driver_assignment.load(self.driver_id)
        if assignment is None:
            return None
        shipment = await info.context.loaders.shipment.load(assignment.shipment_id)
        if shipment is None:
            return None
        return next((Delivery(record=d) for d in shipment.deliveries if d.delivery_id == assignment.delivery_id), None)


def driver_from(record: DriverRecord) -> Driver:
    driver: Driver = from_payload(Driver, record.profile, record=record)
    return driver


async def load_driver(info: Ctx, driver_id: str | None) -> Driver | None:
    if not driver_id:
        return None
    record = await info.context.loaders.driver.load(driver_id)
    return driver_from(record) if record else None


@strawberry.type(description="One trip to the recipient's door for one shipment, from its delivery.* events.")
class Delivery:
    record: strawberry.Private[DeliveryRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.delivery_id)

    @strawberry.field(description="After the latest delivery event: scheduled, attempted, completed, failed, ...")
    def status(self) -> str:
        return self.record.status

    @strawberry.field
    def schedule(self, info: Ctx) -> DeliverySchedule | None:
        event = self.record.first("delivery.scheduled")
        if event is None:
            return None
        schedule: DeliverySchedule = from_payload(DeliverySchedule, revealed(info, event))
        return schedule

    @strawberry.field
    def attempts(self, info: Ctx) -> list[DeliveryAttempt]:
        return [
            from_payload(DeliveryAttempt, revealed(info, e), time=e.time) for e in self.record.all("delivery.attempted")
        ]

    @strawberry.field
    def completed_at(self) -> dt.datetime | None:
        event = self.record.first("delivery.completed")
        return event.time if event else None

    @strawberry.field(description="Who signed (personal data: needs read:pii).", extensions=_pii_guard())
    def signed_by(self) -> str | None:
        event = self.record.first("delivery.completed")
        return event.payload.get("signed_by") if event else None

    @strawberry.field
    async def facility(self, info: Ctx) -> Facility | None:
        return await load_facility(info, self.record.facility_id)

    @strawberry.field
    def carrier(self) -> Carrier | None:
        return Carrier(id=strawberry.ID(self.record.carrier_id)) if self.record.carrier_id else None

    @strawberry.field
    async def driver(self, info: Ctx) -> Driver | None:
        return await load_driver(info, self.record.driver_id)

    @strawberry.field
    async def shipment(self, info: Ctx) -> Shipment | None:
        record = await info.context.loaders.shipment.load(self.record.shipment_id)
        return Shipment(record=record) if record else None


@strawberry.type(description="One event in a shipment's life, from silver.")
class TimelineEvent:
    # Plain fields, not resolvers: Strawberry reads them without building an Info or argument
    # list, and a timeline is most of the fields a shipment query resolves.
    event_id: strawberry.ID
    event_type: str
    time: dt.datetime
    facility_id: str | None

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelineEvent:
        return cls(
            event_id=strawberry.ID(entry.event_id),
            event_type=entry.event_type,
            time=entry.time,
            facility_id=entry.facility_id,
        )

    @strawberry.field
    async def facility(self, info: Ctx) -> Facility | None:
        return await load_facility(info, self.facility_id)


@strawberry.type(description="A parcel moving through the network.")
class Shipment:
    record: strawberry.Private[ShipmentRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.shipment_id)

    @strawberry.field(description="Status after the latest event; delivered is final.")
    def status(self) -> ShipmentStatus:
        return ShipmentStatus(self.record.current_status)

    @strawberry.field(description="The booking as the contract defines it (null if only later events arrived).")
    def booking(self, info: Ctx) -> ShipmentBooking | None:
        event = self.record.booking
        if event is None:
            return None
        booking: ShipmentBooking = from_payload(ShipmentBooking, revealed(info, event))
        return booking

    @strawberry.field(description="Hours from creation to delivery.")
    def total_transit_hours(self) -> float | None:
        return self.record.total_transit_hours

    @strawberry.field(description="The promised delivery time from the booking.")
    def expected_delivery(self) -> dt.datetime | None:
        event = self.record.booking
        return dt.datetime.fromisoformat(event.payload["expected_delivery"]) if event else None

    @strawberry.field(description="When it was delivered (null until then).")
    def actual_delivery(self) -> dt.datetime | None:
        return self.record.delivered_at

    @strawberry.field(description="Delivered no later than promised (null until delivered).")
    def on_time(self) -> bool | None:
        expected = self.expected_delivery()
        actual = self.record.delivered_at
        return actual <= expected if expected and actual else None

    @strawberry.field(description="Every event, oldest first.")
    def timeline(self) -> list[TimelineEvent]:
        return [TimelineEvent.of(e) for e in self.record.events]

    @strawberry.field
    def deliveries(self) -> list[Delivery]:
        return [Delivery(record=d) for d in self.record.deliveries]

    @strawberry.field(description="Where it was last scanned.")
    async def current_facility(self, info: Ctx) -> Facility | None:
        return await load_facility(info, self.record.current_facility_id)

    @strawberry.field
    async def origin_facility(self, info: Ctx) -> Facility | None:
        event = self.record.booking
        return await load_facility(info, event.payload.get("origin_facility_id") if event else None)

    @strawberry.field
    async def destination_facility(self, info: Ctx) -> Facility | None:
        event = self.record.booking
        return await load_facility(info, event.payload.get("destination_facility_id") if event else None)

    @strawberry.field
    def carrier(self) -> Carrier | None:
        event = self.record.booking
        carrier_id = (
            event.payload.get("carrier_id")
            if event
            else next((e.carrier_id for e in self.record.events if e.carrier_id), None)
        )
        return Carrier(id=strawberry.ID(carrier_id)) if carrier_id else None


# -- pagination and analytics --------------------------------------------------------------


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class ShipmentEdge:
    cursor: str
    node: Shipment


@strawberry.type(description="A Relay-style page of shipments, oldest booking first.")
class ShipmentConnection:
    edges: list[ShipmentEdge]
    page_info: PageInfo


@strawberry.input(description="All given filters must match.")
class ShipmentFilter:
    status: ShipmentStatus | None = None
    facility_id: strawberry.ID | None = strawberry.field(default=None, description="Scanned at this facility.")
    carrier_id: strawberry.ID | None = None
    created_from: dt.datetime | None = strawberry.field(default=None, description="Booked at or after (inclusive).")
    created_to: dt.datetime | None = strawberry.field(default=None, description="Booked before (exclusive).")


@strawberry.enum
class PerformanceGroupBy(enum.Enum):
    DAY = "day"
    FACILITY = "facility"
    CARRIER = "carrier"


@strawberry.experimental.pydantic.type(
    model=analytics.PerformanceGroup,
    all_fields=True,
    description="Delivery KPIs for one group (a day, facility or carrier).",
)
class DeliveryPerformanceGroup:
    source: str  # GraphQL has no Literal: a String (its description comes from the model)
