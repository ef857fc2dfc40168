"""route: which extra destinations an event goes to besides bronze and silver.

Valid events always land in bronze and silver; rejects go to the DLQ (see the stages).
Configured event types (``pipeline.alert_event_types``) are also copied as alerts, to the
alerts topic and (files) ``storage.alerts``, so on-call tooling hears about exceptions
without polling silver. An alert is named by its event's id: consumers dedupe on
``alert_id``, so an event redelivered or replayed never pages twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from pipeline.transforms.normalize import Envelope


def alert_of(envelope: Envelope) -> dict[str, Any]:
    return alert_from(envelope, orjson.loads(envelope["payload"]))


def alert_from(envelope: Envelope, payload: dict[str, Any]) -> dict[str, Any]:
    """:func:`alert_of` with the envelope's payload already parsed (``payload``)."""
    return {
        "alert_id": envelope["event_id"],
        "event_type": envelope["event_type"],
        "event_time": envelope["event_time"],
        "shipment_id": payload.get("shipment_id"),
        "facility_id": payload.get("facility_id"),
        "detail": payload.get("exception_code") or payload.get("reason"),
        "trace_id": envelope["trace_id"],
        "raised_at": dt.datetime.now(dt.UTC),
    }
