"""GraphQL subscriptions over ``graphql-transport-ws``: the updates topic as live shipment updates.

``shipmentUpdated(id)`` follows one shipment (a tracking page); ``shipmentEvents(filter)``
follows a facility's or a carrier's events (an operations board). Both read the process's
update hub (``live``), never Pub/Sub directly. The same field guards apply as over HTTP: the
connection's key (sent in ``connection_init``) decides what personal data it may see.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError

from graphql_api import shipments
from graphql_api.graph import Ctx, Facility, Shipment, ShipmentStatus, load_facility
from graphql_api.live import Update
from graphql_api.queries import SQL
from graphql_api.shipments import ShipmentRecord


@strawberry.type(description="A new silver shipment or delivery event, as the pipeline published it.")
class ShipmentEvent:
    event_id: strawberry.ID
    event_type: str
    time: dt.datetime = strawberry.field(description="When it happened (event time, UTC).")
    shipment_id: strawberry.ID | None
    delivery_id: str | None
    facility_id: str | None
    carrier_id: str | None
    driver_id: str | None

    @classmethod
    def of(cls, update: Update) -> ShipmentEvent:
        shipment_id = update.shipment_id
        return cls(
            event_id=strawberry.ID(update.event_id),
            event_type=update.get("event_type") or "",
            time=update.event_time,
            shipment_id=strawberry.ID(shipment_id) if shipment_id else None,
            delivery_id=update.get("delivery_id"),
            facility_id=update.get("facility_id"),
            carrier_id=update.get("carrier_id"),
            driver_id=update.get("driver_id"),
        )

    @strawberry.field(description="Where it happened.")
    async def facility(self, info: Ctx) -> Facility | None:
        return await load_facility(info, self.facility_id)


@strawberry.type(description="A shipment after one of its events: the event, its status now, the whole shipment.")
class ShipmentUpdate:
    event: ShipmentEvent
    update: strawberry.Private[Update]
    # The shipment as silver holds it plus this event, read once per update on the first field that needs it.
    _record: strawberry.Private[asyncio.Task[ShipmentRecord] | None] = None

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.update.shipment_id or "")

    @strawberry.field(description="Status after every event silver holds, this one included.")
    async def status(self, info: Ctx) -> ShipmentStatus:
        return ShipmentStatus((await self._current(info)).current_status)

    @strawberry.field(description="The shipment with this event, read fresh (not from the read cache).")
    async def shipment(self, info: Ctx) -> Shipment:
        return Shipment(record=await self._current(info))

    async def _current(self, info: Ctx) -> ShipmentRecord:
        if self._record is None:
            self._record = asyncio.ensure_future(current_record(info, self.update))
        return await self._record


async def current_record(info: Ctx, update: Update) -> ShipmentRecord:
    """The shipment's rows read now, merged with ``update``'s row (the reader's snapshot may predate it)."""
    shipment_id = update.shipment_id or ""
    reader = info.context.reader.fresh()
    try:
        rows = await reader.call(
            lambda: reader.load_many(
                SQL.shipment_events, param="shipment_ids", keys=[shipment_id], key_column="shipment_id"
            )
        )
    finally:
        reader.close()
    merged = {row["event_id"]: row for row in rows.get(shipment_id, [])}
    merged.setdefault(update.event_id, update.warehouse_row())
    record = shipments.build_shipment(shipment_id, list(merged.values()))
    assert record is not None  # at least this update's row
    return record


@strawberry.input(description="Which events to follow: a facility's, a carrier's, or both (all given must match).")
class ShipmentEventFilter:
    facility_id: strawberry.ID | None = None
    carrier_id: strawberry.ID | None = None
    event_types: list[str] | None = strawberry.field(default=None, description="Only these types (all if unset).")


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Each new event of one shipment, with its status after it.")
    async def shipment_updated(self, info: Ctx, id: strawberry.ID) -> AsyncGenerator[ShipmentUpdate, None]:
        hub = info.context.live_updates()
        wanted = str(id)
        async for update in hub.updates(lambda u: u.shipment_id == wanted):
            yield ShipmentUpdate(event=ShipmentEvent.of(update), update=update)

    @strawberry.subscription(description="New shipment and delivery events at a facility and/or of a carrier.")
    async def shipment_events(self, info: Ctx, filter: ShipmentEventFilter) -> AsyncGenerator[ShipmentEvent, None]:
        if not filter.facility_id and not filter.carrier_id:
            raise GraphQLError(
                "shipmentEvents needs filter.facilityId or filter.carrierId (the whole network is not a stream)",
                extensions={"code": "BAD_USER_INPUT"},
            )
        hub = info.context.live_updates()
        facility = str(filter.facility_id) if filter.facility_id else None
        carrier = str(filter.carrier_id) if filter.carrier_id else None
        types = frozenset(filter.event_types) if filter.event_types else None

        def matches(update: Update) -> bool:
            return (
                (facility is None or update.get("facility_id") == facility)
                and (carrier is None or update.get("carrier_id") == carrier)
                and (types is None or update.get("event_type") in types)
            )

        async for update in hub.updates(matches):
            yield ShipmentEvent.of(update)
