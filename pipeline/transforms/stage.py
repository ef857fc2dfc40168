"""stage: what one unique event becomes after dedupe — PII -> bronze envelope, enriched silver row, alert.

:func:`stage_event` is the one place this happens; every graph calls it: the unbounded and
bounded pipelines through :class:`~pipeline.transforms.dofns.StageEventsDoFn`, the local runner's
shard writer in its loop.
Nothing downstream of it ever sees a clear personal value.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import orjson

from contracts.generated.catalog import FAMILIES, SUBJECTS
from logistics.warehouse.columnar import RowWithJsonText
from pipeline.sources.fields import first_present
from pipeline.transforms.enrich import DimensionSnapshot, enrich_in_place
from pipeline.transforms.normalize import Envelope
from pipeline.transforms.pii import Tokenizer, protect_envelope_and_payload
from pipeline.transforms.route import alert_from

BRONZE = "bronze"  # tagged output: the protected envelope, archived in bronze
SILVER = "silver"  # tagged output: (silver table, enriched row)
ALERTS = "alerts"  # tagged output: alerts of the configured event types


@functools.cache
def _silver_layout(event_type: str) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """(silver table, ((key column, payload fields it comes from), ...)) of a subject, looked up once."""
    family = FAMILIES[SUBJECTS[event_type].family]
    return family.silver_table, tuple((column, tuple(family.sources_of(column))) for column in family.key_columns)


def silver_row(envelope: Envelope, *, payload: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """(silver table, row): envelope columns, key columns lifted from the payload, payload as JSON.

    ``payload``: what the envelope's payload text parses to, when the caller has it at hand
    (:func:`stage_event`); the row takes that object as its own. Else the text is parsed. The
    row holds that text too (:class:`RowWithJsonText`): an envelope's payload text is orjson's text of
    its object (normalize writes it so, and the PII step rewrites it so), which is what staging
    would write for the object, so it writes the text as it is.
    """
    if payload is None:
        payload = orjson.loads(envelope["payload"])
    table, key_sources = _silver_layout(envelope["event_type"])
    row = RowWithJsonText(envelope)
    text = row.pop("payload")  # re-added last, after the key columns
    for column, fields in key_sources:
        value = first_present(payload, fields)
        row[column] = value if value is None or type(value) is str else str(value)
    row["payload"] = payload
    row.json_column, row.json_text = "payload", text
    return table, row


class StagedEvent(NamedTuple):  # a NamedTuple: made per event, at a third of a frozen dataclass's cost
    protected: Envelope  # what bronze archives
    table: str  # the silver table
    row: dict[str, Any]  # the enriched silver row
    alert: dict[str, Any] | None  # for the configured event types


def stage_event(
    envelope: Envelope, *, tokenizer: Tokenizer, dims: DimensionSnapshot, alert_event_types: frozenset[str]
) -> StagedEvent:
    # The payload is parsed once: the silver row and the alert read the protected payload object,
    # which is what the protected envelope's payload text parses to.
    protected, payload = protect_envelope_and_payload(envelope, tokenizer=tokenizer)
    table, row = silver_row(protected, payload=payload)
    alert = alert_from(protected, payload) if protected["event_type"] in alert_event_types else None
    return StagedEvent(protected, table, enrich_in_place(row, payload, dims), alert)
