"""validate: an envelope against its contract's generated JSON Schema (or a DeadLetter)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from functools import cache
from typing import Any

import fastjsonschema
import orjson

from codegen import GENERATED_DIR
from contracts.generated.catalog import SUBJECTS
from pipeline.dead_letter import (
    MISSING_REQUIRED_FIELD,
    SCHEMA_VIOLATION,
    UNKNOWN_EVENT_TYPE,
    UNKNOWN_EVENT_VERSION,
    DeadLetter,
)
from pipeline.transforms.normalize import Envelope, envelope_json


@cache
def validator(subject: str, version: int) -> Callable[[Any], Any]:
    """The compiled validator for one contract version (compiled once per process)."""
    path = GENERATED_DIR / "jsonschema" / subject / f"v{version}.json"
    return fastjsonschema.compile(json.loads(path.read_text(encoding="utf-8")))


def validate(envelope: Envelope) -> Envelope | DeadLetter:
    event_type, version = envelope["event_type"], envelope["event_version"]

    def dead(code: str, reason: str, contract_version: int | None = None) -> DeadLetter:
        return DeadLetter(
            # The normalized envelope is itself valid input, so the DLQ row replays as-is.
            "validate",
            code,
            reason,
            envelope_json(envelope),
            envelope["source_system"],
            event_id=envelope["event_id"],
            event_type=event_type,
            # Its envelope minus the ingest time: rejected again by a later run, the same DLQ row.
            identity=envelope_json({**envelope, "ingest_time": None}),
            event_version=version,
            contract_version=contract_version,
        )

    spec = SUBJECTS.get(event_type)
    if spec is None:
        close = difflib.get_close_matches(event_type, SUBJECTS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return dead(UNKNOWN_EVENT_TYPE, f"event_type {event_type!r} is not in the contract registry{hint}")
    if version not in spec.versions:
        known = ", ".join(f"v{v}" for v in spec.versions)
        return dead(
            UNKNOWN_EVENT_VERSION,
            f"{event_type} has no contract v{version}; the registry has {known}",
            spec.latest_version,
        )
    try:
        validator(event_type, version)(orjson.loads(envelope["payload"]))
    except fastjsonschema.JsonSchemaValueException as exc:
        field = (exc.name or "data").removeprefix("data").lstrip(".") or "payload"
        if exc.rule == "required":
            return dead(MISSING_REQUIRED_FIELD, f"{event_type} v{version}: {field}: {exc.message}", version)
        return dead(SCHEMA_VIOLATION, f"{event_type} v{version}: {field}: {exc.message}", version)
    return envelope
