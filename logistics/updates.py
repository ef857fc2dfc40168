"""The updates topic's message format: each new silver shipment or delivery event, as the pipeline
writes it and the API's subscriptions read it (so it sits below both).

The pipeline publishes a row once it is durable in silver (never ahead of the table), so a
subscriber that then queries the API finds the event there. Delivery is at-least-once: a
subscriber dedupes on the ``event_id`` attribute.

A message is the silver row as loaded (PII already protected, enriched), with the silver
table it went to, as one JSON object (times ISO-8601 UTC, ``payload`` an object). Its
attributes carry what a filter or a fan-out keys on without parsing the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

# Silver tables whose new rows are published (the shipment graph the API serves live).
UPDATE_TABLES = frozenset({"shipment_events", "delivery_events"})
# Attributes copied from the row when present (strings): routing without parsing the body.
UPDATE_ATTRIBUTES = ("event_id", "event_type", "shipment_id", "delivery_id", "facility_id", "carrier_id")


def is_update(table: str) -> bool:
    return table in UPDATE_TABLES


def update_message(table: str, row: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    """(body, attributes) of one silver row on the updates topic."""
    body = orjson.dumps({"table": table, **row}, option=orjson.OPT_UTC_Z)
    attributes = {"table": table}
    attributes |= {name: str(row[name]) for name in UPDATE_ATTRIBUTES if row.get(name) is not None}
    return body, attributes


def read_update(body: bytes) -> dict[str, Any]:
    """A message body back as a dict (times stay ISO-8601 strings)."""
    message = orjson.loads(body)
    if not isinstance(message, dict) or "table" not in message:
        raise ValueError("not an updates-topic message: expected a JSON object with a 'table'")
    return message
