from __future__ import annotations

import datetime as dt

import orjson
import pytest

from pipeline.dead_letter import INVALID_ENVELOPE, MALFORMED_JSON, MISSING_ENVELOPE_FIELD, DeadLetter
from pipeline.transforms.normalize import envelope_json, normalize, parse_time, parse_version

NOW = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC)


def _raw(**overrides: object) -> str:
    record = {
        "event_id": "e-1",
        "event_type": "shipment.in_transit",
        "event_version": 1,
        "event_time": "2024-01-15T10:30:00Z",
        "payload": {"shipment_id": "SHP-1", "facility_id": "FAC-1", "carrier_id": "C"},
    }
    record.update(overrides)
    return orjson.dumps(record).decode()


def test_canonical_record_becomes_envelope() -> None:
    env = normalize(_raw(), source_system="kafka", ingest_time=NOW)
    assert not isinstance(env, DeadLetter)
    assert env["event_time"] == dt.datetime(2024, 1, 15, 10, 30, tzinfo=dt.UTC)
    assert env["ingest_time"] == NOW
    assert env["source_system"] == "kafka"
    assert orjson.loads(env["payload"]) == {"carrier_id": "C", "facility_id": "FAC-1", "shipment_id": "SHP-1"}


def test_legacy_camel_case_producer_is_mapped_by_declared_aliases() -> None:
    raw = orjson.dumps(
        {
            "eventId": "e-9",
            "eventType": "shipment.in_transit",
            "eventVersion": "v1",
            "timestamp": 1705314600000,
            "data": {"shipment_id": "SHP-1", "facility_id": "F", "carrier_id": "C"},
        }
    )
    env = normalize(raw, source_system="kafka", ingest_time=NOW)
    assert not isinstance(env, DeadLetter)
    assert (env["event_id"], env["event_version"]) == ("e-9", 1)
    assert env["event_time"] == dt.datetime(2024, 1, 15, 10, 30, tzinfo=dt.UTC)


def test_missing_event_id_gets_a_deterministic_id_so_retries_still_dedupe() -> None:
    raw = _raw(event_id=None)
    first = normalize(raw, source_system="f", ingest_time=NOW)
    retry = normalize(raw, source_system="f", ingest_time=NOW + dt.timedelta(minutes=5))
    assert not isinstance(first, DeadLetter) and not isinstance(retry, DeadLetter)
    assert first["event_id"] == retry["event_id"]


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        ('{"event_id": "x", ', MALFORMED_JSON, "not valid JSON"),
        ("[1, 2]", INVALID_ENVELOPE, "JSON object"),
        (_raw(event_time=None), MISSING_ENVELOPE_FIELD, "event_time"),
        (_raw(event_version="latest"), INVALID_ENVELOPE, "event_version"),
        (_raw(event_time="yesterday"), INVALID_ENVELOPE, "yesterday"),
        (_raw(payload="text"), INVALID_ENVELOPE, "payload"),
    ],
)
def test_bad_records_become_dead_letters_with_reason(raw: str, code: str, words: str) -> None:
    dead = normalize(raw, source_system="file", ingest_time=NOW)
    assert isinstance(dead, DeadLetter)
    assert dead.reason_code == code
    assert words in dead.reason
    assert dead.raw == raw  # replayable as received


def test_versions_and_times() -> None:
    assert [parse_version(v) for v in (2, "2", "v2", "V2")] == [2, 2, 2, 2]
    with pytest.raises(ValueError):
        parse_version(0)
    epoch = dt.datetime(2024, 1, 15, 10, 30, tzinfo=dt.UTC)
    assert parse_time(1705314600) == epoch
    assert parse_time(1705314600000) == epoch
    assert parse_time(1705314600000000) == epoch
    assert parse_time("2024-01-15T11:30:00+01:00") == epoch
    assert parse_time("2024-01-15T10:30:00") == epoch  # naive means UTC


def test_envelope_json_round_trips_through_normalize() -> None:
    env = normalize(_raw(), source_system="file", ingest_time=NOW)
    assert not isinstance(env, DeadLetter)
    again = normalize(envelope_json(env), source_system="replay", ingest_time=NOW + dt.timedelta(days=1))
    assert again == env
