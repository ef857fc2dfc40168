"""The GraphQL schema: the shipment graph."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from graphql_api.context import RequestContext
from graphql_api.shipments import ShipmentTimeline, fetch_timeline


@strawberry.type(description="One event in a shipment's life, from silver.")
class TimelineEvent:
    event_id: strawberry.ID
    event_type: str
    time: dt.datetime
    facility_id: str | None


@strawberry.type(description="A parcel moving through the network.")
class Shipment:
    id: strawberry.ID
    status: str = strawberry.field(description="Status after the latest event: created, in_transit, ..., delivered.")
    total_transit_hours: float | None = strawberry.field(description="Hours from creation to delivery.")
    timeline: list[TimelineEvent] = strawberry.field(description="Every event, oldest first.")

    @classmethod
    def from_timeline(cls, t: ShipmentTimeline) -> Shipment:
        return cls(
            id=strawberry.ID(t.shipment_id),
            status=t.current_status,
            total_transit_hours=t.total_transit_hours,
            timeline=[
                TimelineEvent(
                    event_id=strawberry.ID(e.event_id), event_type=e.event_type, time=e.time, facility_id=e.facility_id
                )
                for e in t.events
            ],
        )


@strawberry.type
class Query:
    @strawberry.field(description="One shipment by id, or null when silver has never seen it.")
    def shipment(self, info: Info[RequestContext, None], id: strawberry.ID) -> Shipment | None:
        with info.context.warehouse() as warehouse:
            timeline = fetch_timeline(warehouse, str(id))
        return Shipment.from_timeline(timeline) if timeline else None


schema = strawberry.Schema(query=Query)
