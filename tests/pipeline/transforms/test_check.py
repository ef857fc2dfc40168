"""check's fast path changes nothing but the cost: over the simulator's feed with every fault, hand-made
tricky records and fuzzed ones, ``check`` returns exactly what ``check_precisely`` (normalize, then the
JSON Schema validator) returns: equal envelopes, equal dead letters (stage, reason code, reason text
with its field path, claimed fields, the record as received)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.generated.catalog import SUBJECTS
from pipeline.dead_letter import DeadLetter
from pipeline.sources.base import SourceRecord
from pipeline.sources.simulator import Faults, SimulationConfig, simulate
from pipeline.transforms.check import check, check_fast, check_precisely

NOW = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
PUBLISHED = dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC)
EVERY_FAULT = Faults(
    duplicate=0.02, late=0.01, out_of_order=0.02, malformed=0.01, unknown_type=0.01, old_version=0.3, camel_case=0.1
)

Record = bytes | str | SourceRecord


def _same(record: Record, *, source_system: str = "file") -> Any:
    """check's result, asserted equal to check_precisely's (DeadLetter equality is field by field)."""
    fast = check(record, source_system=source_system, ingest_time=NOW)
    precise = check_precisely(record, source_system=source_system, ingest_time=NOW)
    assert fast == precise, record
    assert type(fast) is type(precise)
    return fast


@pytest.fixture(scope="module")
def feed() -> list[bytes]:
    return [line.encode() for line in simulate(SimulationConfig(shipments=400, days=2, seed=17, faults=EVERY_FAULT))]


def test_the_simulators_feed_with_every_fault_comes_out_the_same(feed: list[bytes]) -> None:
    results = [_same(line) for line in feed]
    rejects = Counter(r.reason_code for r in results if isinstance(r, DeadLetter))
    assert rejects["malformed_json"] and rejects["unknown_event_type"]  # the faults were there
    valid = [r for r in results if not isinstance(r, DeadLetter)]
    assert {(e["event_type"], e["event_version"]) for e in valid} >= {("shipment.created", 1), ("shipment.created", 2)}


def test_the_fast_path_takes_every_valid_record_of_the_feed(feed: list[bytes]) -> None:
    """Not a timing: the count of records that would pay for the slow path (zero on this feed)."""
    for line in feed:
        if not isinstance(check_precisely(line, source_system="file", ingest_time=NOW), DeadLetter):
            assert check_fast(line, source_system="file", ingest_time=NOW) is not None, line


def test_broker_records_with_attributes_and_publish_time_come_out_the_same(feed: list[bytes]) -> None:
    for index, line in enumerate(feed[:300]):
        attributes = {"trace_id": f"t-{index}", "event_type": "shipment.in_transit"} if index % 3 else {}
        _same(SourceRecord(line, "kafka:shipments", attributes, PUBLISHED if index % 2 else None))


# --------------------------------------------------------------------------- tricky records, by hand

ATTEMPT = {
    "delivery_id": "D-1",
    "shipment_id": "S-1",
    "facility_id": "F-1",
    "carrier_id": "C-1",
    "driver_id": "DRV-1",
    "attempt_number": 1,
    "outcome": "DELIVERED",
}
ADDRESS = {"street": "1 Rue de l'Église", "city": "Zürich", "state": None, "postal_code": "8001", "country": "CH"}
CREATED_V2 = {
    "shipment_id": "SHP-1",
    "tracking_number": "1Z999",
    "origin_facility_id": "FAC-1",
    "destination_facility_id": "FAC-2",
    "carrier_id": "CAR-ACME",
    "service_level": "EXPRESS",
    "weight_kg": 2.5,
    "expected_delivery": "2024-03-03T17:00:00Z",
    "sender": {"name": "Zoë Ñandú 🚚", "email": "zoe@example.com", "phone": None, "address": ADDRESS},
    "recipient": {"name": "李小龍", "address": ADDRESS},
    "package_count": 2,
}
CREATED_V1 = {k: v for k, v in CREATED_V2.items() if k != "package_count"}


def _line(payload: Any = ATTEMPT, **envelope: Any) -> bytes:
    body = {
        "event_id": "e-1",
        "event_type": "delivery.attempted",
        "event_version": 1,
        "event_time": "2024-03-01T08:00:00Z",
        "payload": payload,
    }
    body.update(envelope)
    return orjson.dumps({k: v for k, v in body.items() if v is not _GONE})


_GONE = object()


def _changed(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in {**base, **change}.items() if v is not _GONE}


def _attempt(**change: Any) -> bytes:
    return _line(_changed(ATTEMPT, change))


def _created(version: int, **change: Any) -> bytes:
    payload = _changed(CREATED_V2 if version == 2 else CREATED_V1, change)
    return _line(payload, event_type="shipment.created", event_version=version)


TRICKY: dict[str, Record] = {
    # legacy producers and their aliases
    "camelCase": orjson.dumps(
        {
            "eventId": "e-9",
            "eventType": "delivery.attempted",
            "eventVersion": "v1",
            "timestamp": 1709280000000,
            "data": ATTEMPT,
        }
    ),
    "short aliases": orjson.dumps(
        {
            "id": 7,
            "type": "delivery.attempted",
            "version": "1",
            "occurred_at": 1709280000,
            "body": ATTEMPT,
            "source": "wms",
        }
    ),
    "two aliases, the first null": _line(event_id=None, eventId="e-2", timestamp=1709280000000000, event_time=None),
    "two aliases, both set": _line(eventType="shipment.teleported", eventTime="yesterday"),
    "camelCase and a bad time": orjson.dumps(
        {"eventType": "delivery.attempted", "version": 1, "timestamp": "noon", "data": ATTEMPT}
    ),
    # versions
    "old version": _created(1),
    "current version": _created(2),
    "v1 payload as v2 (defaults)": _created(2, package_count=_GONE),
    "version as V2": _line(CREATED_V2, event_type="shipment.created", event_version="V2"),
    "v2 field in a v1 payload": _created(1, package_count=2),
    "unknown version": _created(3),
    "version 0": _line(event_version=0),
    "version latest": _line(event_version="latest"),
    "version true": _line(event_version=True),
    "version 1.0": _line(event_version=1.0),
    "version a list": _line(event_version=[1]),
    "version of ten digits": _line(event_version=10**12),
    "version a long string": _line(event_version=" " * 40 + "v1"),
    "version padded": _line(event_version=" v1 "),
    # unknown types
    "unknown type": _line(event_type="shipment.teleported"),
    "misspelt type": _line(event_type="delivery.atempted"),
    "type a number": _line(event_type=42),
    "type in unicode": _line(event_type="delivery.attempté"),
    # wrong types
    "string for a string": _attempt(facility_id=42),
    "string for an int": _attempt(attempt_number="1"),
    "integral float for an int": _attempt(attempt_number=1.0),
    "true for an int": _attempt(attempt_number=True),
    "string for a number": _created(2, weight_kg="2.5"),
    "true for a number": _created(2, weight_kg=True),
    "int for a number": _created(2, weight_kg=3),
    "int for a bool": _created(2, signature_required=1),
    "enum in lower case": _attempt(outcome="delivered"),
    "object for a string": _attempt(driver_id={"id": "DRV-1"}),
    # missing and extra fields
    "missing payload field": _attempt(driver_id=_GONE),
    "missing nested field": _created(2, recipient={"name": "X"}),
    "missing payload": _line(payload=_GONE),
    "missing event time": _line(event_time=_GONE),
    "extra payload field": _attempt(weather="rain"),
    "extra nested field": _created(2, sender={**CREATED_V2["sender"], "age": 40}),
    "extra envelope field": _line(producer="legacy-wms", schema="x"),
    "many envelope fields": _line(**{f"x{i}": i for i in range(100)}),
    # nulls
    "null required field": _attempt(driver_id=None),
    "null optional union": _attempt(location=None),
    "null event id": _line(event_id=None),
    "empty event id": _line(event_id=""),
    "zero event id": _line(event_id=0),
    "null trace id": _line(trace_id=None),
    "null payload": _line(payload=None),
    "null source system": _line(source_system=None),
    # times
    "bad event time": _line(event_time="15/01/2024 10:30"),
    "event time out of range": _line(event_time=1e30),
    "event time epoch seconds": _line(event_time=1709280000),
    "event time epoch ms float": _line(event_time=1709280000123.5),
    "event time naive": _line(event_time="2024-03-01T08:00:00"),
    "event time with offset": _line(event_time="2024-03-01T09:00:00+01:00"),
    "event time with offset zero": _line(event_time="2024-03-01T08:00:00-00:00"),
    "event time, Z as the separator too": _line(event_time="2024-03-01Z08:00:00Z"),
    "event time, a date and Z": _line(event_time="2024-03-01Z"),
    "event time, Z twice": _line(event_time="2024-03-01T08:00:00ZZ"),
    "event time, lower-case z": _line(event_time="2024-03-01t08:00:00z"),
    "event time, fractional seconds": _line(event_time="2024-03-01T08:00:00.1234Z"),
    "event time, basic format": _line(event_time="20240301T080000Z"),
    # the key normalize_fast reads a field the shape lacks under, sent by a producer
    "an empty key": _line(**{"": "x"}),
    "an empty key and no event id": _line(**{"": "x"}, event_id=_GONE),
    "event time an object": _line(event_time={"at": 1}),
    "ingest time given": _line(ingest_time="2024-03-01T08:00:05Z"),
    "ingest time bad": _line(ingest_time="soon"),
    "payload time naive": _created(2, expected_delivery="2024-03-03T17:00:00"),
    "payload time 29 Feb of a non-leap year": _created(2, expected_delivery="2023-02-29T17:00:00Z"),
    "payload time 29 Feb of a leap year": _created(2, expected_delivery="2024-02-29T17:00:00+05:30"),
    "payload time lower-case z": _created(2, expected_delivery="2024-03-03t17:00:00.5z"),
    # unicode and bytes
    "unicode payload": _created(2, sender={**CREATED_V2["sender"], "name": "Ωμέγα \u2028 \u0000"}),
    "invalid UTF-8": _attempt(driver_id="DRV-1").replace(b"DRV-1", b"DRV-\xff"),
    "lone surrogate text": _attempt().decode().replace("DRV-1", "DRV-\ud800"),
    "text record": _attempt().decode(),
    # huge numbers
    "int beyond int32": _attempt(attempt_number=2**40),
    "int at int32 max": _attempt(attempt_number=2**31 - 1),
    "int beyond int64 (a float to orjson)": _attempt().replace(
        b'"attempt_number":1', b'"attempt_number":123456789012345678901234567890'
    ),
    "u64 max": _attempt().replace(b'"attempt_number":1', b'"attempt_number":18446744073709551615'),
    "huge float": _created(2, weight_kg=1e308),
    # the fast path checks the object orjson parsed, not its text: numbers JSON writes that Python reads apart
    "number beyond u64 for a number": _created(2, weight_kg=2.5).replace(
        b'"weight_kg":2.5', b'"weight_kg":123456789012345678901234567890'
    ),
    "number beyond float range": _created(2, weight_kg=2.5).replace(b'"weight_kg":2.5', b'"weight_kg":1e400'),
    "negative zero for an int": _attempt().replace(b'"attempt_number":1', b'"attempt_number":-0'),
    "exponent for an int": _attempt().replace(b'"attempt_number":1', b'"attempt_number":1e0'),
    "duplicate payload key, the last valid": _attempt().replace(
        b'"attempt_number":1', b'"attempt_number":"one","attempt_number":1'
    ),
    "duplicate payload key, the last invalid": _attempt().replace(
        b'"attempt_number":1', b'"attempt_number":1,"attempt_number":"one"'
    ),
    "huge integral float for an int": _attempt(attempt_number=1e16),
    "event time in nanoseconds": _line(event_time=1709280000000000000),
    # union branches
    "union: the record branch": _attempt(location={"lat": 48.1, "lon": 11.5}),
    "union: a string": _attempt(location="Main St"),
    "union: an array": _attempt(location=[1, 2]),
    "union: record missing a field": _attempt(location={"lat": 1.0}),
    "union: record with a wrong type": _attempt(location={"lat": "north", "lon": 1.0}),
    "union: record with an extra field": _attempt(location={"lat": 1.0, "lon": 2.0, "alt": 3}),
    "union: null or string gets a number": _created(2, sender={**CREATED_V2["sender"], "email": 42}),
    "union: nested nullable gets an object": _created(2, recipient={**CREATED_V2["recipient"], "phone": {"n": 1}}),
    # not an envelope
    "malformed": b'{"event_id": "x", ',
    "truncated": _attempt()[:-7],
    "an array": b"[1, 2]",
    "a string": b'"text"',
    "a number": b"5",
    "null": b"null",
    "empty": b"",
    "payload as JSON text": _line(orjson.dumps(ATTEMPT).decode()),
    "payload an array": _line([ATTEMPT]),
    # carried through
    "pii_sealed text": _line(pii_sealed="sealed:v1:abc"),
    "pii_sealed not text": _line(pii_sealed=5),
    "trace and source": _line(trace_id=123, source_system="legacy"),
    # from a broker
    "attributes fill the type": SourceRecord(
        orjson.dumps({"event_version": 1, "event_time": "2024-03-01T08:00:00Z", "payload": ATTEMPT}),
        "pubsub:sub",
        {"event_type": "delivery.attempted", "trace_id": "t-1"},
        PUBLISHED,
    ),
    "publish time stands in for event time": SourceRecord(_line(event_time=_GONE), "kafka:x", {}, PUBLISHED),
    "attributes do not override the body": SourceRecord(_line(), "kafka:x", {"event_type": "shipment.teleported"}),
    "attribute with a bad time": SourceRecord(_line(event_time=_GONE), "pubsub:s", {"event_time": "noon"}),
    "attributes and a bad payload": SourceRecord(_attempt(outcome="LOST"), "kafka:x", {"trace_id": "t"}, PUBLISHED),
    "an attribute for the payload": SourceRecord(
        _line(payload=_GONE), "pubsub:s", {"payload": orjson.dumps(ATTEMPT).decode()}
    ),
    # what msgspec (the fast path's parser) and orjson (the precise path's) read apart
    "bytes not UTF-8 under an unknown key": _line(producer="x").replace(b'"producer":"x"', b'"producer":"\xff"'),
    "number beyond float range under an unknown key": _line(producer=1).replace(b'"producer":1', b'"producer":1e400'),
    "event id beyond int64": _line(event_id=2**63),
    "event id beyond 64 bits": _line(event_id=1).replace(b'"event_id":1', b'"event_id":123456789012345678901234567890'),
    "payload int below int64": _attempt(attempt_number=1).replace(
        b'"attempt_number":1', b'"attempt_number":-9223372036854775809'
    ),
    "a key written with an escape": _line().replace(b'"event_type"', b'"event\\u005ftype"'),
    "duplicate envelope key": _line().replace(b'"event_type":', b'"event_type":"shipment.teleported","event_type":'),
}


@pytest.mark.parametrize("name", list(TRICKY))
def test_tricky_records_come_out_the_same(name: str) -> None:
    _same(TRICKY[name])


def test_the_tricky_records_cover_every_reason_and_both_paths() -> None:
    results = {name: _same(record) for name, record in TRICKY.items()}
    codes = {r.reason_code for r in results.values() if isinstance(r, DeadLetter)}
    assert codes == {
        "malformed_json",
        "invalid_envelope",
        "missing_envelope_field",
        "unknown_event_type",
        "unknown_event_version",
        "missing_required_field",
        "schema_violation",
    }
    fast = {name for name, record in TRICKY.items() if check_fast(record, source_system="file", ingest_time=NOW)}
    assert {"camelCase", "short aliases", "two aliases, the first null", "attributes fill the type"} <= fast
    # valid, but left to the JSON Schema: an integral float where the contract says integer
    assert not isinstance(results["integral float for an int"], DeadLetter)
    assert "integral float for an int" not in fast


# --------------------------------------------------------------------------- fuzzed

_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_PAYLOADS = st.sampled_from([ATTEMPT, CREATED_V1, CREATED_V2]).flatmap(
    lambda base: st.dictionaries(st.sampled_from(sorted(base)), _VALUES, max_size=2).map(
        lambda change: {**base, **change}
    )
)
_ENVELOPES = st.fixed_dictionaries(
    {},
    optional={
        "event_id": st.one_of(st.text(max_size=6), st.integers(-3, 3), st.none()),
        "eventId": st.text(max_size=6),
        "event_type": st.one_of(st.sampled_from(sorted(SUBJECTS)), st.text(max_size=10)),
        "type": st.sampled_from(["delivery.attempted", "shipment.created"]),
        "event_version": st.one_of(st.integers(-1, 3), st.sampled_from(["v1", "v2", "2", "latest", ""]), st.none()),
        "version": st.sampled_from([1, 2, "v1"]),
        "event_time": st.one_of(
            st.integers(-(10**16), 10**16),
            st.floats(allow_nan=False, allow_infinity=False),
            st.sampled_from(["2024-01-15T10:00:00Z", "2024-13-45", "2024-01-15T10:00:00", ""]),
            st.none(),
        ),
        "timestamp": st.integers(0, 2 * 10**12),
        "ingest_time": st.sampled_from(["2024-01-15T10:00:05Z", "later", None]),
        "trace_id": _VALUES,
        "source_system": _VALUES,
        "pii_sealed": _VALUES,
        "payload": _PAYLOADS | _VALUES,
        "data": _PAYLOADS,
        "": _VALUES,
    },
)


@given(_ENVELOPES, st.dictionaries(st.sampled_from(["event_type", "event_time", "trace_id"]), st.text(max_size=20)))
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzzed_envelopes_come_out_the_same(record: dict[str, Any], attributes: dict[str, str]) -> None:
    line = orjson.dumps(record)
    _same(line)
    _same(SourceRecord(line, "pubsub:fuzz", attributes, PUBLISHED))
