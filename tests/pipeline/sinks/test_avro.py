"""Bronze's Avro: encode_envelope writes the bytes fastavro writes, and a container assembled
from them holds exactly the records the baseline's write_avro wrote (benchmarks/baseline.py)."""

from __future__ import annotations

import datetime as dt
import io
import zlib
from collections import defaultdict
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import baseline
from pipeline.sinks.avro import (
    BLOCK_BYTES,
    PARSED_ENVELOPE,
    container,
    deflate_block,
    encode_envelope,
    encode_envelope_and_hour,
    encoded_event_id,
    sync_marker_of,
    write_avro,
    write_encoded,
)
from pipeline.sinks.bronze import hour_of
from pipeline.transforms.normalize import Envelope

NOW = dt.datetime(2026, 1, 5, 12, 0, 0, 123456, tzinfo=dt.UTC)


def fastavro_record(envelope: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, PARSED_ENVELOPE, envelope)
    return buffer.getvalue()


def _envelope(**changes: Any) -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "event_type": "shipment.created",
        "event_version": 2,
        "event_time": dt.datetime(2024, 3, 1, 9, 7, 1, 5, tzinfo=dt.UTC),
        "ingest_time": NOW,
        "source_system": "kafka:wms",
        "trace_id": None,
        "payload": '{"a":1}',
        "pii_sealed": None,
    } | changes


TRICKY = {
    "plain": {},
    "non-ASCII": {"event_id": "é-東京-😀", "payload": '{"name":"Zoë"}', "source_system": "kafka:wms·eu"},
    "long payload": {"payload": '{"x":"' + "y" * 70_000 + '"}'},  # a length past the small-length table
    "trace and sealed": {"trace_id": "t-1", "pii_sealed": '{"location":"tok:v1:AAAA"}'},
    "empty strings": {"event_id": "", "payload": "", "trace_id": "", "pii_sealed": ""},
    "pre-1979 time": {"event_time": dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC)},
    "pre-epoch time": {"event_time": dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)},
    "far future time": {"event_time": dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)},
    "offset time": {"event_time": dt.datetime(2024, 3, 1, 9, 7, tzinfo=dt.timezone(dt.timedelta(hours=-5)))},
    "integer time": {"ingest_time": 1_700_000_000_000_000},
    "big version": {"event_version": 2**31 - 1},
    "negative version": {"event_version": -64},
    "missing optional fields": {"trace_id": ..., "pii_sealed": ...},
    "last small version": {"event_version": 16_383},
    "first large version": {"event_version": 16_384},
    "huge version": {"event_version": 2**62},
    "non-ASCII trace and sealed": {"trace_id": "t-ü", "pii_sealed": '{"p":"Zoë 😀"}'},
    "long non-ASCII payload": {"payload": '{"x":"' + "ß" * 9_000 + '"}'},  # 9k characters, 18k bytes
    "long id and sealed": {"event_id": "i" * 20_000, "pii_sealed": "s" * 20_000, "source_system": "s" * 17_000},
    "half-hour offset": {"event_time": dt.datetime(2024, 3, 1, 9, 59, tzinfo=dt.timezone(dt.timedelta(hours=5.5)))},
    "str subclass": {"event_type": type("Kind", (str,), {})("shipment.created")},
    "bool version": {"event_version": True},
}


@pytest.mark.parametrize("changes", TRICKY.values(), ids=TRICKY.keys())
def test_an_envelope_encodes_to_the_bytes_fastavro_writes(changes: dict[str, Any]) -> None:
    envelope = {k: v for k, v in _envelope(**changes).items() if v is not ...}
    assert encode_envelope(envelope) == fastavro_record(envelope)
    assert encoded_event_id(encode_envelope(envelope)) == envelope["event_id"]


def _hour_start(envelope: dict[str, Any]) -> int:
    return int(hour_of(envelope).timestamp())


@pytest.mark.parametrize("changes", TRICKY.values(), ids=TRICKY.keys())
def test_an_envelope_in_utc_is_encoded_with_the_start_of_its_hour(changes: dict[str, Any]) -> None:
    envelope = {k: v for k, v in _envelope(**changes).items() if v is not ...}
    hour, record = encode_envelope_and_hour(envelope)
    assert record == fastavro_record(envelope)
    # not in UTC: its hour is hour_of's, the caller's to ask for
    assert hour == (_hour_start(envelope) if envelope["event_time"].tzinfo is dt.UTC else None)


_ZONES = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-8))])
_TIMES = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=_ZONES)
_TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["", "shipment.created", "simulator", "ß" * 9_000]))
_ENVELOPES = st.fixed_dictionaries(
    {
        "event_id": _TEXT,
        "event_type": _TEXT,
        "event_version": st.integers(min_value=-(2**31), max_value=2**31 - 1),
        "event_time": _TIMES,
        "ingest_time": _TIMES,
        "source_system": _TEXT,
        "trace_id": st.none() | _TEXT,
        "payload": _TEXT,
        "pii_sealed": st.none() | _TEXT,
    }
)


@given(envelopes=st.lists(_ENVELOPES, min_size=1, max_size=4))
@settings(max_examples=600, deadline=None)
def test_any_envelope_encodes_to_the_bytes_fastavro_writes_and_its_hour(envelopes: list[dict[str, Any]]) -> None:
    """Texts of any characters and lengths (empty, past the small-length table), versions over
    Avro's int, times from year 1 to 9999 in and out of UTC: fastavro's bytes, hour_of's hour.
    Several envelopes in a row, so a time or text kept from one is checked against the next."""
    for envelope in envelopes:
        hour, record = encode_envelope_and_hour(envelope)
        assert record == fastavro_record(envelope)
        assert hour == (_hour_start(envelope) if envelope["event_time"].tzinfo is dt.UTC else None)


def test_ingest_and_event_times_kept_from_one_envelope_are_not_reused_for_another() -> None:
    later = NOW + dt.timedelta(microseconds=1)
    utc = dt.datetime(2024, 3, 1, 9, 59, 59, tzinfo=dt.UTC)
    same_instant_in_india = utc.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))  # 15:29:59+05:30
    envelopes = [
        _envelope(ingest_time=NOW, event_time=utc),
        _envelope(ingest_time=later, event_time=same_instant_in_india),
        _envelope(ingest_time=NOW.replace(), event_time=utc.replace()),  # equal values, other objects
        _envelope(ingest_time=later, event_time=same_instant_in_india),
    ]
    for envelope in envelopes:
        hour, record = encode_envelope_and_hour(envelope)
        assert record == fastavro_record(envelope)
        # equal instants, not the same hour: 09:00Z for the UTC time, 15:00+05:30 (hour_of's) for the other
        assert hour == (_hour_start(envelope) if envelope["event_time"].tzinfo is dt.UTC else None)
    assert _hour_start(envelopes[0]) != _hour_start(envelopes[1])


def test_an_envelope_reencoded_after_its_times_are_cached_is_the_same() -> None:
    envelope = _envelope(event_time=dt.datetime(2024, 3, 1, 9, 7, 1, 77, tzinfo=dt.UTC))
    assert encode_envelope(envelope) == encode_envelope(dict(envelope)) == fastavro_record(envelope)


def test_what_the_plain_writers_do_not_take_is_left_to_fastavro() -> None:
    naive = _envelope(event_time=dt.datetime(2024, 3, 1, 9, 7))  # fastavro reads it as local time
    assert encode_envelope(naive) == fastavro_record(naive)
    with pytest.raises((TypeError, ValueError)):  # refused as fastavro always refused it
        encode_envelope(_envelope(event_version="2"))
    with pytest.raises((TypeError, ValueError)):
        encode_envelope({k: v for k, v in _envelope().items() if k != "payload"})
    with pytest.raises((TypeError, ValueError)):
        encode_envelope(_envelope(trace_id=7))
    with pytest.raises((TypeError, ValueError)):
        encode_envelope(_envelope(event_time="2024-03-01T09:07:00Z"))
    with pytest.raises((TypeError, ValueError)):
        encode_envelope(_envelope(ingest_time=[NOW]))  # unhashable


def test_the_feed_encodes_to_the_bytes_fastavro_writes(protected: list[Envelope]) -> None:
    assert [encode_envelope(e) for e in protected] == [fastavro_record(e) for e in protected]


def _records(data: bytes) -> tuple[dict[str, Any], list[Any]]:
    reader = fastavro.reader(io.BytesIO(data))
    return reader.writer_schema, list(reader)  # type: ignore[return-value]


def test_containers_hold_the_records_the_baseline_wrote(protected: list[Envelope]) -> None:
    hours: dict[dt.datetime, list[Envelope]] = defaultdict(list)
    for envelope in protected:
        hours[hour_of(envelope)].append(envelope)
    assert len(hours) > 1
    for envelopes in hours.values():
        now, before = io.BytesIO(), io.BytesIO()
        write_avro(now, envelopes)
        baseline.write_avro(before, envelopes)
        assert _records(now.getvalue()) == _records(before.getvalue())
        assert fastavro.reader(io.BytesIO(now.getvalue())).codec == "deflate"


def test_a_container_of_many_blocks_and_one_of_none() -> None:
    envelopes = [_envelope(event_id=f"e-{n}", payload='{"n":' + str(n) + "}" + " " * 500) for n in range(200)]
    buffer = io.BytesIO()
    write_encoded(buffer, [encode_envelope(e) for e in envelopes])
    assert sum(len(encode_envelope(e)) for e in envelopes) > 5 * BLOCK_BYTES
    assert len(list(fastavro.block_reader(io.BytesIO(buffer.getvalue())))) > 5
    assert _records(buffer.getvalue())[1] == _records(_baseline_container(envelopes))[1]
    empty = io.BytesIO()
    write_avro(empty, [])
    assert _records(empty.getvalue()) == _records(_baseline_container([]))


def _baseline_container(envelopes: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    baseline.write_avro(buffer, envelopes)
    return buffer.getvalue()


def test_blocks_deflated_apart_make_one_container_of_their_records_in_order() -> None:
    envelopes = [_envelope(event_id=f"e-{n}", payload='{"n":"' + "ü" * n + '"}') for n in range(30)]
    records = [encode_envelope(e) for e in envelopes]
    blocks = [(len(part), deflate_block(part)) for part in (records[:1], records[1:17], records[17:])]
    assert zlib.decompress(blocks[1][1], -15) == b"".join(records[1:17])  # raw deflate, as any inflate reads it
    marker = sync_marker_of("events-x")
    data = container(blocks, sync_marker=marker)
    assert _records(data)[1] == _records(_baseline_container(envelopes))[1]
    assert [block.num_records for block in fastavro.block_reader(io.BytesIO(data))] == [1, 16, 13]
    assert container(blocks, sync_marker=marker) == data  # the same blocks and name: the same bytes
    assert _records(container([], sync_marker=marker)) == _records(_baseline_container([]))
    with_marker = io.BytesIO()
    write_encoded(with_marker, records)
    assert _records(with_marker.getvalue())[1] == _records(data)[1]
