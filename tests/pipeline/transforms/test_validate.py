from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipeline.dead_letter import (
    MISSING_REQUIRED_FIELD,
    SCHEMA_VIOLATION,
    UNKNOWN_EVENT_TYPE,
    UNKNOWN_EVENT_VERSION,
    DeadLetter,
)
from pipeline.sources.base import SourceRecord
from pipeline.sources.simulator import SimulationConfig, simulate
from pipeline.transforms.check import check
from pipeline.transforms.normalize import Envelope, normalize
from pipeline.transforms.validate import conforms, validate

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


def test_contract_version_is_the_one_the_record_was_held_to() -> None:
    assert _dead(_envelope(payload={**PAYLOAD, "weight": 3})).contract_version == 1  # claimed, and known
    assert _dead(_envelope("shipment.teleported")).contract_version is None  # no such subject


def _dead(envelope: Envelope) -> DeadLetter:
    dead = validate(envelope)
    assert isinstance(dead, DeadLetter)
    return dead


# --------------------------------------------------------------------------- reasons

ATTEMPT = {
    "delivery_id": "D-1",
    "shipment_id": "S-1",
    "facility_id": "F-1",
    "carrier_id": "C-1",
    "driver_id": "DRV-1",
    "attempt_number": 1,
    "outcome": "DELIVERED",
}


@pytest.mark.parametrize(
    ("change", "code", "reason"),
    [
        # a union ("cannot be validated by any definition" was all it said): the types it takes, and what came
        (
            {"location": "Main St"},
            SCHEMA_VIOLATION,
            'location must be null or a GeoPoint object, got a string shaped "xxxx xx"',
        ),
        ({"location": [1, 2]}, SCHEMA_VIOLATION, "location must be null or a GeoPoint object, got a JSON array"),
        # an object of the right kind that breaks the record inside: the inner field
        ({"location": {"lat": "north", "lon": 1.0}}, SCHEMA_VIOLATION, "location.lat must be a number, got a string"),
        ({"location": {"lat": 1.0}}, SCHEMA_VIOLATION, "location is missing required field(s): lon"),
        ({"attempt_number": "1"}, SCHEMA_VIOLATION, 'attempt_number must be an integer, got a string shaped "d"'),
        ({"attempt_number": 2**40}, SCHEMA_VIOLATION, "attempt_number must be smaller than or equal to 2147483647"),
        (
            {"outcome": "LOST"},
            SCHEMA_VIOLATION,
            "outcome must be one of DELIVERED, RECIPIENT_ABSENT, NO_ACCESS, REFUSED, ADDRESS_NOT_FOUND, got a string",
        ),
        ({"weather": "rain"}, SCHEMA_VIOLATION, "payload has field(s) its contract does not define: weather"),
        ({"driver_id": None}, SCHEMA_VIOLATION, "driver_id must be a string, got null"),
    ],
)
def test_schema_reasons_name_the_field_the_expected_type_and_what_came(
    change: dict[str, object], code: str, reason: str
) -> None:
    dead = _dead(_envelope("delivery.attempted", payload={**ATTEMPT, **change}))
    assert dead.reason_code == code
    assert dead.reason.startswith("delivery.attempted v1: ")
    assert reason in dead.reason


def test_missing_fields_are_named_not_the_whole_required_list() -> None:
    dead = _dead(_envelope("delivery.attempted", payload={k: v for k, v in ATTEMPT.items() if k != "driver_id"}))
    assert dead.reason_code == MISSING_REQUIRED_FIELD
    assert dead.reason == "delivery.attempted v1: payload is missing required field(s): driver_id"


def test_schema_reasons_never_quote_the_value() -> None:
    personal = {"location": "ada.lovelace@example.com", "outcome": "Ada Lovelace", "attempt_number": "+1-555-0102"}
    for field, value in personal.items():
        dead = _dead(_envelope("delivery.attempted", payload={**ATTEMPT, field: value}))
        assert field in dead.reason
        assert not any(part in dead.reason for part in ("ada", "Ada", "Lovelace", "555", "0102"))


# --------------------------------------------------------------------------- check


def test_check_rejects_carry_the_record_exactly_as_received() -> None:
    line = (
        b'{"eventId": "e-2", "eventType": "shipment.in_transit", "version": "v1", "timestamp": 1705314600, '
        b'"data": {"shipment_id": "S", "facility_id": 42, "carrier_id": "C"}}'
    )
    dead = check(line, source_system="file", ingest_time=NOW)
    assert isinstance(dead, DeadLetter) and dead.stage == "validate"
    assert dead.received == SourceRecord(line, "file")  # the producer's own bytes, not the normalized envelope
    assert dead.raw == line.decode()
    assert (dead.event_id, dead.event_version, dead.contract_version) == ("e-2", 1, 1)

    published = dt.datetime(2024, 1, 15, 9, 0, tzinfo=dt.UTC)
    record = SourceRecord(line, "kafka:shipments", {"trace_id": "t-1"}, published)
    from_broker = check(record, source_system="file", ingest_time=NOW)
    assert isinstance(from_broker, DeadLetter) and from_broker.received == record
    assert from_broker.trace_id == "t-1"


# --------------------------------------------------------------------------- conforms, from the parsed payload

_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.sampled_from(["GROUND", "DELIVERED", "2024-03-03T17:00:00Z", "2023-02-29T17:00:00Z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def feed_payloads() -> dict[tuple[str, int], dict[str, Any]]:
    """A valid payload of every contract version the simulator sends."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for line in simulate(SimulationConfig(shipments=60, days=1, seed=5)):
        env = normalize(line, source_system="test", ingest_time=NOW)
        if not isinstance(env, DeadLetter):
            found.setdefault((env["event_type"], env["event_version"]), orjson.loads(env["payload"]))
    return found


def _mutated(payload: Any, path: list[str | int], value: Any, how: str) -> Any:
    """``payload`` with the value at ``path`` (as far as it leads) replaced, deleted or given a sibling."""
    if not path or not isinstance(payload, (dict, list)) or not payload:
        return value
    if isinstance(payload, dict):
        key = sorted(payload)[hash(path[0]) % len(payload)] if isinstance(path[0], int) else path[0]
        copy = dict(payload)
        if len(path) == 1 and how == "delete":
            copy.pop(key, None)
        elif len(path) == 1 and how == "add":
            copy[f"{key}_extra"] = value
        else:
            copy[key] = _mutated(payload.get(key), path[1:], value, how)
        return copy
    index = path[0] if isinstance(path[0], int) else 0
    items = list(payload)
    items[index % len(items)] = _mutated(items[index % len(items)], path[1:], value, how)
    return items


@given(
    st.data(),
    st.lists(st.integers(0, 12), min_size=1, max_size=3),
    _JSON_VALUES,
    st.sampled_from(["replace", "delete", "add"]),
)
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_conforms_from_the_parsed_payload_gives_the_verdict_of_its_text(
    feed_payloads: dict[tuple[str, int], dict[str, Any]],
    data: st.DataObject,
    path: list[str | int],
    value: Any,
    how: str,
) -> None:
    """What check relies on: msgspec.convert of the payload orjson parsed is exactly as strict as
    decoding the text written from it (ints for floats, floats for ints, bools, big numbers,
    unknown and missing fields, nested records, patterns)."""
    subject, version = data.draw(st.sampled_from(sorted(feed_payloads)))
    payload = _mutated(feed_payloads[(subject, version)], path, value, how)
    if not isinstance(payload, dict):
        return
    parsed = orjson.loads(json.dumps(payload))  # what normalize holds: JSON's values as orjson reads them (big ints)
    envelope = {"event_type": subject, "event_version": version, "payload": orjson.dumps(parsed).decode()}
    verdict = conforms(envelope)
    event(f"conforms: {verdict}")
    assert conforms(envelope, payload=parsed) == verdict


def test_conforms_from_the_parsed_payload_on_edge_values(feed_payloads: dict[tuple[str, int], dict[str, Any]]) -> None:
    payload = feed_payloads[("shipment.created", 2)]
    for change, verdict in [
        ({}, True),
        ({"weight_kg": 3}, True),  # an int for a number
        ({"weight_kg": True}, False),
        ({"package_count": 2.0}, False),  # an integral float for an integer: the JSON Schema's to judge
        ({"package_count": 2**31}, False),
        ({"package_count": 2**64 - 1}, False),
        ({"signature_required": 1}, False),
        ({"service_level": "ground"}, False),
        ({"expected_delivery": "2023-02-29T17:00:00Z"}, False),
        ({"sender": None}, False),
        ({"extra": 1}, False),
    ]:
        parsed = orjson.loads(orjson.dumps({**payload, **change}))
        envelope = {"event_type": "shipment.created", "event_version": 2, "payload": orjson.dumps(parsed).decode()}
        assert conforms(envelope, payload=parsed) is conforms(envelope) is verdict, change
    unknown = {"event_type": "shipment.teleported", "event_version": 1, "payload": "{}"}
    assert conforms(unknown, payload={}) is conforms(unknown) is False
