from __future__ import annotations

import datetime as dt

import orjson
import pytest

from pipeline.dead_letter import (
    MISSING_REQUIRED_FIELD,
    SCHEMA_VIOLATION,
    UNKNOWN_EVENT_TYPE,
    UNKNOWN_EVENT_VERSION,
    DeadLetter,
)
from pipeline.transforms.normalize import Envelope, normalize
from pipeline.transforms.validate import validate

NOW = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC)
PAYLOAD = {"shipment_id": "SHP-1", "facility_id": "FAC-1", "carrier_id": "C"}


def _envelope(event_type: str = "shipment.in_transit", version: int = 1, payload: dict | None = None) -> Envelope:
    raw = orjson.dumps(
        {
            "event_id": "e-1",
            "event_type": event_type,
            "event_version": version,
            "event_time": "2024-01-15T10:30:00Z",
            "payload": PAYLOAD if payload is None else payload,
        }
    )
    env = normalize(raw, source_system="test", ingest_time=NOW)
    assert not isinstance(env, DeadLetter)
    return env


def test_valid_event_passes_unchanged() -> None:
    env = _envelope()
    assert validate(env) is env


@pytest.mark.parametrize(
    ("envelope", "code", "words"),
    [
        (_envelope("shipment.teleported"), UNKNOWN_EVENT_TYPE, "not in the contract registry"),
        (_envelope("shipment.in_transt"), UNKNOWN_EVENT_TYPE, "did you mean 'shipment.in_transit'"),
        (_envelope(version=7), UNKNOWN_EVENT_VERSION, "has no contract v7"),
        (_envelope(payload={"shipment_id": "SHP-1", "carrier_id": "C"}), MISSING_REQUIRED_FIELD, "facility_id"),
        (_envelope(payload={**PAYLOAD, "weight": 3}), SCHEMA_VIOLATION, "weight"),
        (_envelope(payload={**PAYLOAD, "facility_id": 42}), SCHEMA_VIOLATION, "facility_id"),
    ],
)
def test_contract_failures_are_dead_letters_with_distinct_reasons(envelope: Envelope, code: str, words: str) -> None:
    dead = validate(envelope)
    assert isinstance(dead, DeadLetter)
    assert dead.reason_code == code
    assert words in dead.reason
    assert dead.stage == "validate"
    assert dead.event_id == "e-1"
    # the DLQ row carries a replayable envelope, not a lossy summary
    assert normalize(dead.raw, source_system="replay", ingest_time=NOW) == envelope


def test_unknown_version_reports_latest_contract_version() -> None:
    dead = validate(_envelope("shipment.created", version=3, payload={}))
    assert isinstance(dead, DeadLetter)
    assert dead.contract_version == 2
    assert "v1, v2" in dead.reason
