"""bronze: the envelope archived as Avro (schema embedded), ``events/yyyy/mm/dd/hh/``.

An archived envelope carries what the PII stage added to it (``pii_sealed``, the sealed precise
values of generalized fields), so a replay from bronze rebuilds silver with them.

Written through Beam filesystems, so a ``gs://`` URI and a local folder are the same code.
File names carry the run id and a part name: bronze is append-only and a rerun never
overwrites history. Two writers:

An hour never holds an event_id twice (:mod:`pipeline.sinks.archive`): a rerun or a replay
adds nothing the hour already has.

- :class:`WriteBronze` (the unbounded and bounded pipelines): envelopes batched per event hour
  (``GroupIntoBatches`` with a sharded key, so a distributed runner splits a hot hour over
  workers), one file per batch, named by a digest of its event ids: a retried batch rewrites
  its own file;
- the local runner's shard writer (:mod:`pipeline.local_runner.shard`): one file per hour per shard.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import operator
import os
from collections.abc import Iterable, Iterator
from typing import IO, Any

import apache_beam as beam
import fastavro
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import PCollection
from isal import isal_zlib

from contracts.generated.coders import BRONZE_SCHEMA
from pipeline.sinks.archive import archived_ids
from pipeline.transforms.normalize import Envelope

PARSED_ENVELOPE = fastavro.parse_schema(BRONZE_SCHEMA)  # the contract's envelope + pii_sealed


def bronze_prefix(root: str, hour: dt.datetime, *, run_id: str, part: str) -> str:
    """``<root>/yyyy/mm/dd/hh/events-<hour start>-<run>-<part>``: a writer's file for an event hour
    (replaying a day is one prefix), before its digest."""
    return f"{root.rstrip('/')}/{hour:%Y/%m/%d/%H}/events-{hour:%Y%m%dT%H}0000-{run_id}-{part}"


def write_bronze_file(root: str, hour: dt.datetime, *, run_id: str, part: str, data: bytes) -> str:
    """Write one Avro container; its name ends in a digest of its bytes (``-<sha256[:16]>.avro``), so
    a reader can tell a damaged file from a sound one even where the damage still decodes (Avro's
    deflate blocks carry no checksum).

    A writer is its (hour, run, part): a file it wrote before under another digest (an attempt that
    was retried) is removed once this one is written. The same records need not deflate to the same
    bytes (ISA-L does not promise it, and a run's blocks differ now and then), so a retry is not
    left to land on its earlier file's name.
    """
    prefix = bronze_prefix(root, hour, run_id=run_id, part=part)
    path = f"{prefix}-{hashlib.sha256(data).hexdigest()[:16]}.avro"
    with FileSystems.create(path) as fh:
        fh.write(data)
    earlier = [
        found.path
        for found in FileSystems.match([f"{prefix}-*.avro"])[0].metadata_list
        # the prefix, then a digest and .avro: this writer's name (a longer part is another writer's)
        if found.path != path and len(found.path) == len(path) and named_digest(found.path) is not None
    ]
    if earlier:
        FileSystems.delete(earlier)
    return path


def named_digest(path: str) -> str | None:
    """The digest a bronze file's name carries (None: a file written before names carried one)."""
    digest = path.rsplit("/", 1)[-1].removesuffix(".avro").rsplit("-", 1)[-1]
    return digest if len(digest) == 16 and all(c in "0123456789abcdef" for c in digest) else None


def event_ids(path: str) -> list[str]:
    """The event ids of one bronze file."""
    with FileSystems.open(path) as fh:
        return [str(record["event_id"]) for record in fastavro.reader(fh)]  # type: ignore[index,call-overload]


# Deflate level 1 (about half the CPU of the default level 6 for a few percent more bytes), by
# ISA-L (isal): a third of zlib's level-1 CPU for the same size within 1%. Bronze is written on
# every event's path and read only by replays; any inflate reads it (Avro's ``deflate`` is raw deflate).
DEFLATE_LEVEL = 1


# ----------------------------------------------------------------- one envelope as Avro binary

# Bronze writes every event, and fastavro's writer spends most of its time per field on the
# generality of its schema walk. The envelope's fields are few and plain, so each is written
# by code picked once from the schema, to the bytes Avro's binary encoding prescribes (the same
# fastavro writes: tests/pipeline/sinks/test_bronze.py compares them). A value of another shape
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
    raise TypeError("the bronze envelope's fields changed: teach pipeline/sinks/bronze.py's encode_envelope them")
_FIELD_VALUES = operator.itemgetter(*(name for name, _ in _WRITTEN_FIELDS))


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


def hour_of(envelope: Envelope) -> dt.datetime:
    event_time: dt.datetime = envelope["event_time"]
    return event_time.replace(minute=0, second=0, microsecond=0)


def _by_hour(envelope: Envelope) -> tuple[int, bytes]:
    start, record = encode_envelope_and_hour(envelope)
    return (int(hour_of(envelope).timestamp()) if start is None else start), record


class _WriteBatchDoFn(beam.DoFn):
    def __init__(self, *, root: str, run_id: str) -> None:
        self._root, self._run_id = root.rstrip("/"), run_id

    def process(self, batch: tuple[Any, Iterable[bytes]]) -> Iterator[str]:
        sharded_key, encoded = batch
        # The records stay as the shuffle carried them (encode_envelope's bytes): only their ids are read.
        records = [(encoded_event_id(record), record) for record in encoded]
        hour = dt.datetime.fromtimestamp(sharded_key.key, tz=dt.UTC)
        # Named by its ids: a retried batch is the same writer, whose earlier file it replaces.
        part = hashlib.sha256("\n".join(sorted(event_id for event_id, _ in records)).encode()).hexdigest()[:12]
        prefix = bronze_prefix(self._root, hour, run_id=self._run_id, part=part)
        known = archived_ids(self._root, hour, ids_of=event_ids, except_prefix=prefix)
        fresh = [record for event_id, record in records if event_id not in known]
        if fresh:
            buffer = io.BytesIO()
            # A retried batch is the same writer (the same part): its file replaces the earlier one.
            write_encoded(buffer, fresh, sync_marker=sync_marker_of(prefix))
            yield write_bronze_file(self._root, hour, run_id=self._run_id, part=part, data=buffer.getvalue())


class WriteBronze(beam.PTransform):
    """Protected envelopes -> Avro files per event hour, in batches of up to ``batch_size`` events
    or ``max_buffering_seconds`` of waiting (unbounded input); outputs the paths written."""

    def __init__(self, *, root: str, run_id: str, batch_size: int = 5_000, max_buffering_seconds: float = 60) -> None:
        super().__init__()
        self._root, self._run_id = root, run_id
        self._batch_size, self._buffering = batch_size, max_buffering_seconds

    def expand(self, envelopes: PCollection) -> PCollection:
        return (
            envelopes
            # Avro-encoded for the shuffle (far cheaper than pickling dicts), as the file will hold them.
            | "ByHour" >> beam.Map(_by_hour).with_output_types(tuple[int, bytes])
            | "BatchPerHour"
            >> beam.GroupIntoBatches.WithShardedKey(self._batch_size, max_buffering_duration_secs=self._buffering)
            | "WriteAvro" >> beam.ParDo(_WriteBatchDoFn(root=self._root, run_id=self._run_id))
        )


def read_bronze(pattern: str) -> list[Envelope]:
    """Every envelope in the bronze files matching ``pattern`` (local or Beam filesystem URI)."""
    records: list[Envelope] = []
    for match in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(match.path) as fh:
            records.extend(fastavro.reader(fh))  # type: ignore[arg-type]
    return records
