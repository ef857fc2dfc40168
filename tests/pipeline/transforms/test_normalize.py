from __future__ import annotations

import datetime as dt
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.dead_letter import INVALID_ENVELOPE, MALFORMED_JSON, MISSING_ENVELOPE_FIELD, DeadLetter
from pipeline.sources.base import SourceRecord
from pipeline.transforms.normalize import (
    describe_value,
    envelope_json,
    normalize,
    normalize_fast,
    normalize_record,
    parse_time,
    parse_version,
    utc_time,
)

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
        (_raw(event_time="yesterday"), INVALID_ENVELOPE, "event_time"),
        (_raw(payload="text"), INVALID_ENVELOPE, "payload"),
    ],
)
def test_bad_records_become_dead_letters_with_reason(raw: str, code: str, words: str) -> None:
    dead = normalize(raw, source_system="file", ingest_time=NOW)
    assert isinstance(dead, DeadLetter)
    assert dead.reason_code == code
    assert words in dead.reason
    assert dead.raw == raw  # its text, for people
    assert dead.received == SourceRecord(raw.encode(), "file")  # what a replay re-validates


def test_a_broker_record_is_kept_with_its_attributes_and_publish_time() -> None:
    body = orjson.dumps({"event_version": 1, "payload": "not an object"})
    published = dt.datetime(2024, 1, 15, 9, 0, tzinfo=dt.UTC)
    record = SourceRecord(body, "pubsub:sub", {"event_type": "shipment.in_transit"}, published)
    dead = normalize_record(record, source_system="ignored", ingest_time=NOW)
    assert isinstance(dead, DeadLetter)
    assert dead.received == record
    assert (dead.event_type, dead.contract_version, dead.source_system) == ("shipment.in_transit", 1, "pubsub:sub")
    assert "payload: expected a JSON object" in dead.reason


# --------------------------------------------------------------------------- what the producer claimed


@pytest.mark.parametrize(
    ("overrides", "version", "contract_version"),
    [
        ({"event_time": "15/01/2024 10:30"}, 1, 1),  # bad time
        ({"event_time": None}, 1, 1),  # missing time
        ({"payload": None}, 1, 1),  # missing payload
        ({"event_version": 0}, 0, 1),  # a version no contract has: held to the latest
        ({"event_version": "v0"}, 0, 1),
        ({"payload": orjson.dumps({"shipment_id": "SHP-1"}).decode()}, 1, 1),  # payload sent as a JSON string
        ({"event_version": "latest"}, None, None),  # no readable version: nothing to hold it to
    ],
)
def test_normalize_rejects_keep_every_envelope_field_the_record_claimed(
    overrides: dict[str, object], version: int | None, contract_version: int | None
) -> None:
    raw = _raw(**overrides, trace_id="trace-7", source_system="legacy-wms")
    dead = normalize(raw, source_system="kafka:shipments", ingest_time=NOW)
    assert isinstance(dead, DeadLetter) and dead.stage == "normalize"
    claimed = (dead.event_id, dead.event_type, dead.event_version, dead.contract_version, dead.trace_id)
    assert claimed == ("e-1", "shipment.in_transit", version, contract_version, "trace-7")
    assert dead.source_system == "legacy-wms"


def test_camel_case_rejects_keep_their_claims_too() -> None:
    raw = orjson.dumps({"eventId": 7, "eventType": "shipment.created", "version": "v2", "traceId": "t", "data": {}})
    dead = normalize(raw, source_system="file", ingest_time=NOW)
    assert isinstance(dead, DeadLetter) and dead.reason_code == MISSING_ENVELOPE_FIELD
    assert (dead.event_id, dead.event_type, dead.event_version, dead.contract_version) == (
        "7",
        "shipment.created",
        2,
        2,
    )
    assert (dead.trace_id, dead.source_system) == ("t", "file")


def test_a_record_that_is_json_but_for_its_bytes_keeps_its_claims() -> None:
    raw = _raw().encode().replace(b"SHP-1", b"SHP-\xff")
    dead = normalize(raw, source_system="file", ingest_time=NOW)
    assert isinstance(dead, DeadLetter) and dead.reason_code == MALFORMED_JSON
    assert (dead.event_id, dead.event_type, dead.contract_version) == ("e-1", "shipment.in_transit", 1)
    assert dead.received is not None and dead.received.value == raw  # the bytes, not their replacement


# --------------------------------------------------------------------------- reasons


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (
            {"timestamp": 1705312800000000000, "event_time": None},
            'event_time (sent as "timestamp"): expected an ISO-8601 time such as "2024-01-15T10:30:00Z", '
            "or epoch seconds, milliseconds or microseconds, got a 19-digit number, "
            "out of range in each of those units",
        ),
        (
            {"event_time": "15/01/2024 10:30"},
            'event_time: expected an ISO-8601 time such as "2024-01-15T10:30:00Z", or epoch seconds, '
            'milliseconds or microseconds, got a string shaped "dd/dd/dddd dd:dd"',
        ),
        ({"event_time": {"at": 1}}, "event_time: expected an ISO-8601 time"),
        (
            {"eventVersion": 0, "event_version": None},
            'event_version (sent as "eventVersion"): expected a version number of 1 or more, such as 2 or "v2", '
            "got the number 0",
        ),
        ({"ingest_time": "soon"}, 'ingest_time: expected an ISO-8601 time such as "2024-01-15T10:30:00Z"'),
        (
            {"payload": orjson.dumps({"shipment_id": "SHP-1"}).decode()},
            "payload: expected a JSON object, got a string holding one (send the object itself, not its JSON text)",
        ),
        ({"payload": [1]}, "payload: expected a JSON object, got a JSON array"),
        (
            {"event_time": None, "payload": None},
            "envelope field(s) missing: event_time (looked for event_time, eventTime, timestamp, occurred_at); "
            "payload (looked for payload, data, body)",
        ),
    ],
)
def test_envelope_reasons_name_the_field_what_it_must_be_and_what_came(
    overrides: dict[str, object], words: str
) -> None:
    dead = normalize(_raw(**overrides), source_system="file", ingest_time=NOW)
    assert isinstance(dead, DeadLetter)
    assert words in dead.reason


def test_a_value_from_the_message_attributes_is_named_as_such() -> None:
    body = orjson.dumps({"event_type": "shipment.in_transit", "event_version": 1, "payload": {}})
    dead = normalize(body, source_system="pubsub:s", ingest_time=NOW, attributes={"event_time": "noon"})
    assert isinstance(dead, DeadLetter)
    assert dead.reason.startswith("event_time (from the message attributes): expected an ISO-8601 time")


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        # the \xff is byte 22 of the line (the é before it takes two bytes)
        (b'{"event_id": "caf\xc3\xa9", \xff}', "not valid UTF-8 at byte offset 22 (byte 0xff)"),
        # "tru" starts at character 26, byte 28: three two-byte characters come before it
        (
            b'{"event_id": "\xc3\xa9\xc3\xa9\xc3\xa9", "x": tru}',
            "not valid JSON at column 26 (byte offset 28): invalid literal",
        ),
        ('{"event_id": "ééé", "x": tru}', "not valid JSON at column 26 (byte offset 28): invalid literal"),
        (b'{"a":\n "x" "y"}', "not valid JSON at line 2, column 6 (byte offset 11)"),
        (b"", "not valid JSON at column 1 (byte offset 0)"),
    ],
)
def test_malformed_lines_report_the_position_in_the_line(raw: bytes | str, words: str) -> None:
    dead = normalize(raw, source_system="file", ingest_time=NOW)
    assert isinstance(dead, DeadLetter) and dead.reason_code == MALFORMED_JSON
    assert words in dead.reason


_PERSONAL_TEXT = ["ada.lovelace@example.com", "+1-555-0102", "Ada Lovelace", "1 Main Street", "4111111111111111"]


@pytest.mark.parametrize(
    ("field", "personal"),
    [(field, value) for field in ("event_time", "event_version", "payload", "ingest_time") for value in _PERSONAL_TEXT]
    + [("event_version", 4111111111111111), ("payload", 15550102), ("event_time", 1e30)],
)
def test_envelope_reasons_never_quote_the_value(field: str, personal: object) -> None:
    """A reason lands in the DLQ and in logs: a personal value put in the wrong field stays out of it."""
    dead = normalize(_raw(**{field: personal}), source_system="file", ingest_time=NOW)
    assert isinstance(dead, DeadLetter) and dead.reason_code == INVALID_ENVELOPE
    assert field in dead.reason
    assert not any(part in dead.reason for part in ("Ada", "Lovelace", "555", "0102", "Main", "1111", "0000"))


def test_value_descriptions() -> None:
    assert describe_value("2024-13-45T10:30:00Z") == 'a string shaped "dddd-dd-ddTdd:dd:ddZ"'
    assert describe_value("x" * 50) == 'a string shaped "' + "x" * 40 + '... (50 characters)"'
    assert describe_value(12) == "the number 12"
    assert (describe_value(15550102), describe_value(123456789)) == ("an 8-digit number", "a 9-digit number")
    assert describe_value(1e30) == "a decimal number with 31 digit(s) before the point"
    assert describe_value(None) == "null"
    assert describe_value(float("inf")) == "a non-finite number"


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


# --------------------------------------------------------------------------- parse_time's shortcut


def _parse_time_as_before(value: str) -> dt.datetime:
    """parse_time of a string as it was written before its "already UTC" shortcut."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


_TIME_TEXTS = st.one_of(
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))]) | st.none()).map(
        lambda at: at.isoformat()
    ),
    st.datetimes().map(lambda at: at.isoformat(timespec="seconds") + "Z"),
    st.datetimes().map(lambda at: at.isoformat(sep=" ") + "z"),
    st.text(alphabet="0123456789-+:TZz .", max_size=32),
    st.sampled_from(["2024-01-15", "2024-01-15Z", "2024-01-15T10:30:00+00:00Z", "2024-01-15T10:30:00-00:00", "Z"]),
)


@given(_TIME_TEXTS)
@settings(max_examples=1500, deadline=None)
def test_parse_time_of_a_string_is_what_it_was_to_the_value_and_zone(text: str) -> None:
    try:
        expected = _parse_time_as_before(text)
    except ValueError:
        with pytest.raises(ValueError, match="expected an ISO-8601 time"):
            parse_time(text)
        return
    got = parse_time(text)
    assert (got, got.tzinfo, got.isoformat()) == (expected, expected.tzinfo, expected.isoformat())
    assert got.tzinfo is dt.UTC


# --------------------------------------------------------------------------- utc_time: parse_time, quicker

_ODD_TIME_TEXTS = st.one_of(
    _TIME_TEXTS,
    st.datetimes().map(lambda at: at.isoformat(timespec="microseconds") + "Z"),
    st.tuples(st.datetimes(), st.integers(0, 9)).map(
        lambda pair: pair[0].strftime("%Y-%m-%dT%H:%M:%S.") + "1" * pair[1] + "Z"
    ),
    st.datetimes().map(lambda at: at.strftime("%Y%m%dT%H%M%SZ")),
    st.datetimes().map(lambda at: at.isoformat(sep="Z") + "Z"),
    st.datetimes().map(lambda at: at.date().isoformat() + "Z"),
    st.text(alphabet="0123456789-+:TZzW .", min_size=7, max_size=26).map(lambda text: text + "Z"),
)


@given(_ODD_TIME_TEXTS)
@settings(max_examples=3000, deadline=None)
def test_utc_time_is_parse_time(text: str) -> None:
    try:
        expected = parse_time(text)
    except ValueError as refused:
        with pytest.raises(ValueError) as also:
            utc_time(text)
        assert str(also.value) == str(refused)
        return
    got = utc_time(text)
    assert (got, got.tzinfo, got.isoformat()) == (expected, expected.tzinfo, expected.isoformat())


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-15T10:30:00Z",
        "2024-01-15Z10:30:00Z",  # Z as the separator: fromisoformat reads it, parse_time refuses it
        "2024-01-15Z",
        "2024-01-15T10:30:00ZZ",
        "2024-01-15T10:30:00z",
        "2024-01-15T10:30:00+00:00",
        "2024-01-15T10:30:00-00:00",
        "2024-01-15T10:30:00.5Z",
        "2024-01-15T10:30:00.1234567Z",
        "20240115T103000Z",
        "2024-W03-1T10:30:00Z",
        "Z",
        "",
    ],
)
def test_utc_time_is_parse_time_on_odd_texts(text: str) -> None:
    test_utc_time_is_parse_time.hypothesis.inner_test(text)  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [1705314600, 1705314600000, 1.5e12, 1e30, None, True, [], {"at": 1}])
def test_utc_time_of_anything_but_text_is_parse_time(value: object) -> None:
    try:
        expected = parse_time(value)
    except ValueError as refused:
        with pytest.raises(ValueError, match="expected an ISO-8601 time") as also:
            utc_time(value)
        assert str(also.value) == str(refused)
        return
    assert utc_time(value) == expected


# --------------------------------------------------------------------------- normalize_fast: msgspec reads as orjson

# normalize_fast decodes a record with msgspec, normalize with orjson: the payload text and every
# envelope field must come out the same, and a record only one of them reads is normalize's.
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: beyond 64 bits orjson reads a float, msgspec an int
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
_FAST_NOW = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC)


def _fast_is_normalize(raw: bytes | str) -> Any:
    """normalize_fast's envelope, asserted equal to normalize's (or None, normalize's to judge)."""
    fast = normalize_fast(raw, source_system="file", ingest_time=_FAST_NOW)
    if fast is not None:
        envelope, payload = fast
        assert envelope == normalize(raw, source_system="file", ingest_time=_FAST_NOW), raw
        assert envelope["payload"] == orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    return fast


def _beyond_64_bits(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_beyond_64_bits(v) for v in value.values())
    if isinstance(value, list):
        return any(_beyond_64_bits(v) for v in value)
    return type(value) is int and not -(2**63) <= value < 2**64


@given(_JSON_VALUES, st.booleans())
@settings(max_examples=500, deadline=None)
def test_normalize_fast_reads_around_keys_no_alias_names(value: Any, ascii_only: bool) -> None:
    """Any JSON under a key no alias names (a producer's own, which normalize ignores): normalize's
    envelope; the whole record is checked as orjson checks it, ints beyond 64 bits included."""
    record = {
        "event_type": "t",
        "event_version": 1,
        "producer": value,
        "event_time": "2024-01-15T10:30:00Z",
        "payload": {},
    }
    assert _fast_is_normalize(json.dumps(record, ensure_ascii=ascii_only)) is not None


@given(_JSON_VALUES, st.booleans(), st.booleans())
@settings(max_examples=1500, deadline=None)
def test_normalize_fast_reads_a_payload_as_orjson_does(value: Any, ascii_only: bool, as_text: bool) -> None:
    """Numbers (ints of any size, floats to the last bit), escapes, non-ASCII text: the payload
    text is normalize's; only an int orjson reads as a float is left to normalize."""
    record = {"event_type": "t", "event_version": 1, "event_time": "2024-01-15T10:30:00Z", "payload": {"v": value}}
    text = json.dumps(record, ensure_ascii=ascii_only)  # the stdlib writes any int, and escapes on demand
    fast = _fast_is_normalize(text if as_text else text.encode())
    assert (fast is None) == _beyond_64_bits(value)


_BYTES = st.sampled_from(
    [
        *(
            b"\xff",
            b"\xed\xa0\x80",
            b"\\ud800",
            b"\\udc00",
            b"\\u005f",
            b"\x00",
            b"\x1f",
            b"\\",
            b'"',
            b",",
            b"}",
            b"]",
        ),
        *(
            b"1e400",
            b"-0",
            b"01",
            b"1.",
            b"18446744073709551616",
            b"-9223372036854775809",
            b"NaN",
            b" ",
            b"\xef\xbb\xbf",
        ),
    ]
)


@given(st.lists(st.tuples(st.integers(0, 460), _BYTES), min_size=1, max_size=3), st.booleans())
@settings(max_examples=3000, deadline=None)
def test_normalize_fast_accepts_no_mangled_record_normalize_refuses(
    edits: list[tuple[int, bytes]], other_keys: bool
) -> None:
    """Bytes that are not UTF-8, lone surrogates, numbers out of range, broken syntax, anywhere in a
    record (its keys too, and keys no alias names): normalize_fast returns normalize's envelope or
    leaves the record to it."""
    others: dict[str, Any] = {"producer": {"fw": [2, 1.5], "at": 7}, "x": "y"} if other_keys else {}
    raw = _raw(
        trace_id="t-1", source_system="wms", payload={"shipment_id": "SHP-1", "facility_id": "F", "n": 1.5}, **others
    )
    mangled = raw.encode()
    for at, inserted in edits:
        mangled = mangled[:at] + inserted + mangled[at:]
    _fast_is_normalize(mangled)


@pytest.mark.parametrize(
    "raw",
    [
        _raw(event_id=2**63 - 1),
        _raw(event_id=0),
        _raw(event_version="v1"),
        _raw(event_time=1705314600000),
        _raw(event_time=1705314600.5),
        _raw(ingest_time="2024-01-15T10:30:05Z"),
        _raw(pii_sealed="sealed:v1:x"),
        _raw(source_system=""),
        _raw().replace('"event_type"', '"event\\u005ftype"'),  # a key written with an escape
        _raw().replace('"event_type":"shipment.in_transit"', '"event_type":"x","event_type":"shipment.in_transit"'),
        _raw(payload=None, data={"shipment_id": "S"}),
        # keys no alias names (a producer's own), which normalize ignores: read around
        _raw(producer="wms"),
        _raw(producer={"firmware": [2, 1], "n": 1e300, "name": "scanner é"}, x=None),
        orjson.dumps(
            {"eventType": "t", "version": "2", "timestamp": 1705314600, "body": {}, "firmware": "2.1"}
        ).decode(),
        orjson.dumps({"eventType": "t", "version": "2", "timestamp": 1705314600, "body": {}, "id": 7}).decode(),
    ],
)
def test_normalize_fast_takes_these_as_normalize_does(raw: str) -> None:
    assert _fast_is_normalize(raw) is not None


@pytest.mark.parametrize(
    "raw",
    [
        _raw(event_id=2**63),  # beyond int64 (orjson reads an int beyond 64 bits as a float: none read here)
        _raw().replace('"event_id":"e-1"', '"event_id":123456789012345678901234567890'),
        _raw(event_id=True),
        _raw(trace_id=5),
        _raw(pii_sealed=5),
        _raw(payload={"n": 0}).replace('"n":0', '"n":-9223372036854775809'),  # a float to orjson, an int to msgspec
        # under a key no alias names, what orjson refuses (msgspec would skip it unread)
        _raw().encode().replace(b'"event_id":"e-1"', b'"event_id":"e-1","x":"\xff"'),
        _raw().replace('"event_id":"e-1"', '"event_id":"e-1","x":1e400'),
        # nested deeper than msgspec reads (orjson reads to 1024)
        _raw().replace('"carrier_id":"C"', '"carrier_id":"C","deep":' + "[" * 1010 + "]" * 1010),
    ],
)
def test_normalize_fast_leaves_these_to_normalize(raw: str | bytes) -> None:
    assert normalize_fast(raw, source_system="file", ingest_time=_FAST_NOW) is None
