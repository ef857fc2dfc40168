"""The REST endpoints (docs/api.md): thin routes over the same reads the GraphQL resolvers use."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from graphql_api import analytics, facilities, shipments
from graphql_api.reader import Reader

EPOCH = shipments.EPOCH
END_OF_TIME = shipments.END_OF_TIME
_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing or invalid API key."},
    404: {"description": "Unknown id."},
    429: {"description": "Rate limit exceeded; see Retry-After."},
}


class TimelineEventOut(BaseModel):
    event_type: str
    time: str = Field(description="UTC, ISO 8601 with Z.")


class TimelineOut(BaseModel):
    shipment_id: str
    events: list[TimelineEventOut]
    current_status: str
    total_transit_hours: float | None


class DeliveryPerformanceOut(BaseModel):
    window_start: dt.datetime
    window_end: dt.datetime
    group_by: Literal["day", "facility", "carrier"]
    source: Literal["gold", "silver"]
    groups: list[analytics.PerformanceGroup]


def _reader(request: Request) -> Reader:
    reader: Reader = request.state.reader
    return reader


def _invalid(field: str, message: str) -> RequestValidationError:
    # Same body shape as FastAPI's own 422s, so the response matches the documented schema.
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error", "input": None}])


def _day(value: str | None, field: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _invalid(field, f"{value!r} is not a calendar date (YYYY-MM-DD)") from None


def _window(start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    """Dates are UTC days; ``to`` is inclusive for REST callers (``?from=2024-01-15&to=2024-01-15`` is one day)."""
    first, last = _day(start, "from"), _day(end, "to")
    lo = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC) if first else EPOCH
    hi = END_OF_TIME
    if last is not None and last < dt.date(9999, 12, 30):
        hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return lo, max(lo, hi)  # `to` before `from` is an empty window, not an error


# Dates as strict YYYY-MM-DD strings: pydantic's lax date parsing would take `to=0` as 1970-01-01.
_DAY = r"^\d{4}-\d{2}-\d{2}$"
_DATE = {"format": "date"}
FromDate = Annotated[
    str | None,
    Query(alias="from", pattern=_DAY, json_schema_extra=_DATE, description="First UTC day (inclusive), YYYY-MM-DD."),
]
ToDate = Annotated[
    str | None, Query(pattern=_DAY, json_schema_extra=_DATE, description="Last UTC day (inclusive), YYYY-MM-DD.")
]
ShipmentId = Annotated[str, Path(min_length=1, max_length=128, examples=["SHP-0001"])]
FacilityId = Annotated[str, Path(min_length=1, max_length=128, examples=["FAC-IND"])]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=_ERRORS)

    @router.get("/shipments/{shipment_id}/timeline", tags=["shipments"], response_model=TimelineOut)
    async def shipment_timeline(shipment_id: ShipmentId, request: Request) -> TimelineOut:
        reader = _reader(request)
        record = await reader.call(shipments.fetch_shipment, reader, shipment_id)
        if record is None:
            raise HTTPException(status_code=404, detail=f"shipment {shipment_id} not found")
        return TimelineOut.model_validate(shipments.timeline_response(record))

    @router.get(
        "/facilities/{facility_id}/metrics", tags=["facilities"], response_model=facilities.FacilityMetricsRecord
    )
    def facility_metrics(
        facility_id: FacilityId, request: Request, from_: FromDate = None, to: ToDate = None
    ) -> facilities.FacilityMetricsRecord:
        reader = _reader(request)
        start, end = _window(from_, to)
        if facilities.load_facilities(reader, [facility_id])[0] is None:
            raise HTTPException(status_code=404, detail=f"facility {facility_id} not found")
        (record,) = facilities.load_metrics(reader, [facility_id], window_start=start, window_end=end)
        return record

    @router.get("/analytics/delivery-performance", tags=["analytics"], response_model=DeliveryPerformanceOut)
    def delivery_performance(
        request: Request,
        from_: FromDate = None,
        to: ToDate = None,
        group_by: Literal["day", "facility", "carrier"] = "day",
    ) -> DeliveryPerformanceOut:
        start, end = _window(from_, to)
        rows = analytics.delivery_performance(_reader(request), window_start=start, window_end=end, group_by=group_by)
        return DeliveryPerformanceOut(
            window_start=start,
            window_end=end,
            group_by=group_by,
            source=rows[0].source if rows else "silver",
            groups=rows,
        )

    return router
