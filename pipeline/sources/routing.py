"""Which Pub/Sub topic a raw event goes to, and the attributes it carries there.

One answer for every producer this repository runs: ``logistics publish --to pubsub`` and the
Kafka bridge (:mod:`pipeline.sources.kafka_bridge`). A message goes to its event family's topic
(``pubsub.topics[<family>]``); a body that names no known subject (malformed, unknown type)
goes to the first event topic, so the pipeline still reads it and dead-letters it with a reason.
Attributes carry the envelope fields a subscription filter keys on (``event_type``,
``event_id``, ``trace_id``) when the body has them, legacy camelCase keys included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from contracts.generated.catalog import SUBJECTS
from logistics.settings import setting_problem
from pipeline.sources.fields import FIELD_ALIASES, first_present

_ATTRIBUTES = ("event_type", "event_id", "trace_id")
# Set by a bridge: where a message really came from (``kafka:<topic>``); the pipeline reads it back.
SOURCE_ATTRIBUTE = "source_system"


def _body(value: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def route(value: bytes, *, event_topics: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """(topic, attributes) of one raw event body (any bytes: unparseable bodies are routed too)."""
    if not event_topics:
        raise setting_problem("pubsub.topics", "no event topics configured")
    body = _body(value)
    fields = {name: first_present(body, FIELD_ALIASES[name]) for name in _ATTRIBUTES}
    attributes = {name: str(v) for name, v in fields.items() if v is not None and not isinstance(v, dict | list)}
    event_type = fields["event_type"]
    spec = SUBJECTS.get(event_type) if isinstance(event_type, str) else None
    fallback = next(iter(event_topics.values()))
    return (event_topics.get(spec.family, fallback) if spec else fallback), attributes
