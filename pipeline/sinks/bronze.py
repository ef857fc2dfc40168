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
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import fastavro
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import PCollection

from pipeline.sinks.archive import archived_ids
from pipeline.sinks.avro import encode_envelope_and_hour, encoded_event_id, sync_marker_of, write_encoded
from pipeline.transforms.normalize import Envelope


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
