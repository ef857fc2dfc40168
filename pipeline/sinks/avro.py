"""avro: bronze's Avro: one envelope as Avro binary under the bronze schema, and containers of
encoded records (header, deflated blocks) as fastavro writes them.

Apart from :mod:`pipeline.sinks.bronze` (where the files go, and the Beam transform that writes
them): this is work done per event, and its module is compiled (:mod:`logistics.native`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import operator
import os
from collections.abc import Iterable
from typing import IO, Any

import fastavro
from isal import isal_zlib

from contracts.generated.coders import BRONZE_SCHEMA
from pipeline.transforms.normalize import Envelope

PARSED_ENVELOPE = fastavro.parse_schema(BRONZE_SCHEMA)  # the contract's envelope + pii_sealed


# Deflate level 1 (about half the CPU of the default level 6 for a few percent more bytes), by
# ISA-L (isal): a third of zlib's level-1 CPU for the same size within 1%. Bronze is written on
# every event's path and read only by replays; any inflate reads it (Avro's ``deflate`` is raw deflate).
DEFLATE_LEVEL = 1


# ----------------------------------------------------------------- one envelope as Avro binary

# Bronze writes every event, and fastavro's writer spends most of its time per field on the
# generality of its schema walk. The envelope's fields are few and plain, so each is written
# by code picked once from the schema, to the bytes Avro's binary encoding prescribes (the same
# fastavro writes: tests/pipeline/sinks/test_avro.py compares them). A value of another shape
# than expected (a naive datetime, a str subclass, a missing field) is left to fastavro, which
# writes or refuses it as it always did.


def _zigzag_varint(value: int) -> bytes:
    """An Avro ``int``/``long``: zigzag, then 7 bits a byte, low bits first."""
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value & ~0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint_bytes(value: int, *, continued: bool) -> bytes:
    """``value`` (< 2**14) in 7-bit groups, low first; ``continued``: two bytes, both marked as
    followed by more (the low 14 bits of a longer varint)."""
    if continued:
        return bytes((value & 0x7F | 0x80, value >> 7 | 0x80))
    return bytes((value & 0x7F | 0x80, value >> 7)) if value >> 7 else bytes((value,))


_SMALL_LONGS = tuple(_zigzag_varint(n) for n in range(16_384))  # lengths, versions: looked up
# A timestamp in micros from 1979 to 2540 zigzags to 50..56 bits: an 8-byte varint, written as three
# 14-bit groups of two continued bytes and the last one varint (two bytes: its top group is not 0).
_CONTINUED_14 = tuple(_varint_bytes(n, continued=True) for n in range(16_384))
_LAST_14 = tuple(_varint_bytes(n, continued=False) for n in range(16_384))
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_MICROS_PER_HOUR = 3_600_000_000
_NULL_BRANCH, _STRING_BRANCH = b"\x00", b"\x02"  # union ["null", "string"]: branch 0 or 1
# Length-prefixed bytes of the few texts that repeat on every event (event types, source
# systems), by text; emptied when full, so it stays small.
_TEXTS: dict[str, bytes] = {}
_TEXTS_KEPT = 1_024
# A UTC event time's bytes and hour by datetime (:func:`_event_time`): a feed's times repeat
# (nearly half of them, within a few thousand events). Emptied when full, so it stays small.
_EVENT_TIMES: dict[dt.datetime, tuple[bytes, int]] = {}
_EVENT_TIMES_KEPT = 8_192
# The last ingest time seen and its bytes, as one tuple (replaced whole): a batch's envelopes
# share one datetime object.
_LAST_INGEST: list[tuple[object, bytes]] = [(None, b"")]


def _long(value: Any) -> bytes:
    if type(value) is not int:  # a bool, a float, ...: how fastavro writes (or refuses) it is its business
        raise TypeError  # not plain: left to fastavro
    return _SMALL_LONGS[value] if 0 <= value < 16_384 else _zigzag_varint(value)


def _string(value: Any) -> bytes:
    if type(value) is not str:
        raise TypeError  # not plain: left to fastavro
    data = value.encode()
    size = len(data)
    return (_SMALL_LONGS[size] if size < 16_384 else _zigzag_varint(size)) + data


def _repeated_text(value: str) -> bytes:
    """:func:`_string` of a text that repeats (kept in ``_TEXTS``)."""
    if len(_TEXTS) >= _TEXTS_KEPT:
        _TEXTS.clear()
    encoded = _TEXTS[value] = _string(value)
    return encoded


def _optional_string(value: Any) -> bytes:
    return _NULL_BRANCH if value is None else _STRING_BRANCH + _string(value)


def _micros(value: Any) -> int:
    """An aware datetime in micros since the epoch, exactly (fastavro's timestamp-micros)."""
    if type(value) is not dt.datetime or value.tzinfo is None:  # fastavro reads a naive one as local time
        raise TypeError  # not plain: left to fastavro
    return (value - _EPOCH) // _MICROSECOND


def _timestamp_micros(value: Any) -> bytes:
    return _zigzag_varint(_micros(value))


def _event_time(value: dt.datetime) -> tuple[bytes, int]:
    """A UTC event time's bytes and its hour's start in epoch seconds (kept in ``_EVENT_TIMES``)."""
    micros = (value - _EPOCH) // _MICROSECOND
    zigzag = (micros << 1) ^ (micros >> 63)
    if 1 << 49 <= zigzag < 1 << 56:  # every time from 1979 to 2540: 8 bytes, from the tables
        continued = _CONTINUED_14
        encoded = b"".join(
            (
                continued[zigzag & 0x3FFF],
                continued[zigzag >> 14 & 0x3FFF],
                continued[zigzag >> 28 & 0x3FFF],
                _LAST_14[zigzag >> 42],
            )
        )
    else:
        encoded = _zigzag_varint(micros)
    if len(_EVENT_TIMES) >= _EVENT_TIMES_KEPT:
        _EVENT_TIMES.clear()
    kept = _EVENT_TIMES[value] = (encoded, micros // _MICROS_PER_HOUR * 3600)
    return kept


# The bronze schema's fields, in order, and how each is written; :func:`encode_envelope_and_hour`
# writes exactly these (unrolled: a loop over them costs a third more), and a schema that differs stops here.
_WRITTEN_FIELDS = (
    ("event_id", "string"),
    ("event_type", "string"),
    ("event_version", "int"),
    ("event_time", {"type": "long", "logicalType": "timestamp-micros"}),
    ("ingest_time", {"type": "long", "logicalType": "timestamp-micros"}),
    ("source_system", "string"),
    ("trace_id", ["null", "string"]),
    ("payload", "string"),
    ("pii_sealed", ["null", "string"]),
)
if tuple((field["name"], field["type"]) for field in BRONZE_SCHEMA["fields"]) != _WRITTEN_FIELDS:
    raise TypeError("the bronze envelope's fields changed: teach pipeline/sinks/avro.py's encode_envelope them")
_FIELD_VALUES = operator.itemgetter(*[name for name, _ in _WRITTEN_FIELDS])


def encode_envelope(envelope: Envelope) -> bytes:
    """One envelope as Avro binary (schemaless) under the bronze schema: what fastavro writes."""
    return encode_envelope_and_hour(envelope)[1]


def encode_envelope_and_hour(envelope: Envelope) -> tuple[int | None, bytes]:
    """:func:`encode_envelope`, and the envelope's event hour as the epoch seconds of its start
    (``int(hour_of(envelope).timestamp())``) when its event time is in UTC (None: any other, whose
    hour is :func:`hour_of`'s): the event time in micros gives both."""
    # The fast path takes the envelope as normalize makes it (texts under 16 KiB, a UTC event time);
    # any other is written field by field, as fastavro writes (or refuses) it.
    try:
        event_id, event_type, version, event_time, ingest_time, source, trace, payload, sealed = _FIELD_VALUES(envelope)
    except KeyError:  # a missing field: an optional one is written as null, any other is refused by fastavro
        return _field_by_field(envelope)
    if not (
        type(event_id) is type(event_type) is type(source) is type(payload) is str
        and type(version) is int
        and 0 <= version < 16_384
        and (trace is None or type(trace) is str)
        and (sealed is None or type(sealed) is str)
        and type(event_time) is dt.datetime
        and event_time.tzinfo is dt.UTC  # a normalized event time; any other is written field by field
    ):
        return _field_by_field(envelope)
    last_ingest = _LAST_INGEST[0]
    if ingest_time is not last_ingest[0]:
        try:
            last_ingest = _LAST_INGEST[0] = (ingest_time, _timestamp_micros(ingest_time))
        except TypeError:  # not a plain aware datetime
            return _field_by_field(envelope)
    # The common envelope, inlined (a call per field costs a sixth of the whole): each text's
    # bytes after its length, an optional one after its union branch.
    event_time_bytes, hour = _EVENT_TIMES.get(event_time) or _event_time(event_time)
    small, texts = _SMALL_LONGS, _TEXTS
    id_bytes, payload_bytes = event_id.encode(), payload.encode()
    trace_bytes = b"" if trace is None else trace.encode()
    sealed_bytes = b"" if sealed is None else sealed.encode()
    try:
        record = b"".join(
            (
                small[len(id_bytes)],
                id_bytes,
                texts.get(event_type) or _repeated_text(event_type),
                small[version],
                event_time_bytes,
                last_ingest[1],
                texts.get(source) or _repeated_text(source),
                _NULL_BRANCH if trace is None else _STRING_BRANCH + small[len(trace_bytes)],
                trace_bytes,
                small[len(payload_bytes)],
                payload_bytes,
                _NULL_BRANCH if sealed is None else _STRING_BRANCH + small[len(sealed_bytes)],
                sealed_bytes,
            )
        )
    except IndexError:  # a text of 16 KiB or more, whose length is past the table: written field by field
        return _field_by_field(envelope)
    return hour, record


def _field_by_field(envelope: Envelope) -> tuple[int | None, bytes]:
    """:func:`encode_envelope_and_hour` by :func:`_encode_fields`."""
    record = _encode_fields(envelope)  # first: what fastavro refuses raises here
    event_time: Any = envelope.get("event_time")
    if type(event_time) is dt.datetime and event_time.tzinfo is dt.UTC:
        return _event_time(event_time)[1], record
    return None, record


def _encode_fields(envelope: Envelope) -> bytes:
    """:func:`encode_envelope` field by field: any value a plain writer does not take is left to fastavro."""
    get = envelope.get
    try:
        return b"".join(
            (
                _string(get("event_id")),
                _string(get("event_type")),
                _long(get("event_version")),
                _timestamp_micros(get("event_time")),
                _timestamp_micros(get("ingest_time")),
                _string(get("source_system")),
                _optional_string(get("trace_id")),
                _string(get("payload")),
                _optional_string(get("pii_sealed")),
            )
        )
    except (TypeError, OverflowError):  # a value the plain writers leave to fastavro
        return _fastavro_record(envelope)


def _fastavro_record(envelope: Envelope) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, PARSED_ENVELOPE, envelope)
    return buffer.getvalue()


def encoded_event_id(record: bytes) -> str:
    """The event_id of an encoded envelope, read without decoding the rest (it is the first field)."""
    size = shift = position = 0
    while True:
        byte = record[position]
        size |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            break
        shift += 7
    size = (size >> 1) ^ -(size & 1)
    return record[position : position + size].decode()


# ----------------------------------------------------------------- Avro containers of encoded records

# Raw bytes per block before deflate: fastavro's default sync interval.
BLOCK_BYTES = 16_000
SYNC_SIZE = 16


def _header_before_sync() -> bytes:
    """A bronze container's header (magic, schema, codec) up to its sync marker, as fastavro writes it."""
    buffer = io.BytesIO()
    fastavro.write.Writer(buffer, PARSED_ENVELOPE, codec="deflate", sync_marker=bytes(SYNC_SIZE))
    return buffer.getvalue()[:-SYNC_SIZE]


_HEADER = _header_before_sync()


def deflate_block(records: list[bytes]) -> bytes:
    """Encoded records as one block's data under Avro's ``deflate`` codec (raw deflate, no zlib wrapper)."""
    compressor = isal_zlib.compressobj(DEFLATE_LEVEL, isal_zlib.DEFLATED, -15)
    return compressor.compress(b"".join(records)) + compressor.flush()


def container(blocks: Iterable[tuple[int, bytes]], *, sync_marker: bytes) -> bytes:
    """An Avro container of ``(record count, deflated data)`` blocks (:func:`deflate_block`).

    Blocks are written as fastavro's ``Writer.write_block`` writes them, without its writer: a
    block deflated while its hour was still open is copied into the file as it is.
    """
    parts = [_HEADER, sync_marker]
    for count, data in blocks:
        parts += (_long(count), _long(len(data)), data, sync_marker)
    return b"".join(parts)


def sync_marker_of(name: str) -> bytes:
    """A container's sync marker drawn from its name (a writer's own: its prefix)."""
    return hashlib.md5(name.encode(), usedforsecurity=False).digest()


class AvroBlocks:
    """One bronze Avro container (header, deflated blocks) written to ``fh`` from encoded records."""

    def __init__(self, fh: IO[bytes], *, sync_marker: bytes | None = None) -> None:
        self._fh = fh
        self._sync_marker = sync_marker or os.urandom(SYNC_SIZE)
        self._records: list[bytes] = []
        self._size = 0
        fh.write(_HEADER + self._sync_marker)

    def add(self, record: bytes) -> None:
        self._records.append(record)
        self._size += len(record)
        if self._size >= BLOCK_BYTES:
            self._dump()

    def _dump(self) -> None:
        if self._records:
            data = deflate_block(self._records)
            self._fh.write(b"".join((_long(len(self._records)), _long(len(data)), data, self._sync_marker)))
            self._records, self._size = [], 0

    def flush(self) -> None:
        self._dump()
        self._fh.flush()


def write_avro(fh: IO[bytes], envelopes: Iterable[Envelope]) -> None:
    """An Avro container of ``envelopes`` (deflate) into ``fh``."""
    write_encoded(fh, map(encode_envelope, envelopes))


def write_encoded(fh: IO[bytes], records: Iterable[bytes], *, sync_marker: bytes | None = None) -> None:
    """An Avro container of records already encoded by :func:`encode_envelope` into ``fh``
    (``sync_marker``: see :func:`sync_marker_of`; default: random)."""
    blocks = AvroBlocks(fh, sync_marker=sync_marker)
    for record in records:
        blocks.add(record)
    blocks.flush()
