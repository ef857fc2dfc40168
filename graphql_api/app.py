"""FastAPI application: GraphQL at /graphql, REST under /api/v1, /health."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from strawberry.fastapi import GraphQLRouter

from graphql_api.context import RequestContext
from graphql_api.deps import WarehouseDep
from graphql_api.schema import schema
from graphql_api.shipments import fetch_timeline
from logistics.settings import Settings, get_settings


async def graphql_context(opener: WarehouseDep) -> RequestContext:
    return RequestContext(warehouse=opener)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Logistics shipment graph", version="0.1.0")
    app.state.settings = settings
    graphiql: Literal["graphiql"] | None = "graphiql" if settings.api.introspection else None
    app.include_router(GraphQLRouter(schema, context_getter=graphql_context, graphql_ide=graphiql), prefix="/graphql")

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/shipments/{shipment_id}/timeline", tags=["shipments"])
    def shipment_timeline(shipment_id: str, opener: WarehouseDep) -> dict[str, Any]:
        with opener() as warehouse:
            timeline = fetch_timeline(warehouse, shipment_id)
        if timeline is None:
            raise HTTPException(status_code=404, detail=f"shipment {shipment_id} not found")
        return {
            "shipment_id": timeline.shipment_id,
            "events": [
                {"event_type": e.event_type, "time": e.time.isoformat().replace("+00:00", "Z")} for e in timeline.events
            ],
            "current_status": timeline.current_status,
            "total_transit_hours": timeline.total_transit_hours,
        }

    return app
