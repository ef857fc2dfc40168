"""bronze: the envelope archived as Avro (schema embedded), ``events/yyyy/mm/dd/hh/``.

Written through Beam filesystems, so a ``gs://`` URI and a local folder are the same code.
File names carry the run id: bronze is append-only and a rerun never overwrites history.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from typing import IO, Any

import apache_beam as beam
import fastavro
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import PCollection

from contracts.generated.coders import ENVELOPE_SCHEMA, EnvelopeCoder
from pipeline.sinks._files import WriteGroupedFiles, shard_of
from pipeline.transforms.normalize import Envelope

_PARSED = fastavro.parse_schema(ENVELOPE_SCHEMA)
_CODER = EnvelopeCoder()


def bronze_file(envelope: Envelope, *, run_id: str, shards: int = 1) -> str:
    """``yyyy/mm/dd/hh/events-<hour start>-<run>-<shard>.avro`` by event time (replaying a day is one prefix)."""
    return bronze_path(envelope["event_time"], run_id=run_id, shard=shard_of(envelope["event_id"], shards))


def bronze_path(hour: dt.datetime, *, run_id: str, shard: int) -> str:
    return f"{hour:%Y/%m/%d/%H}/events-{hour:%Y%m%dT%H}0000-{run_id}-{shard:05d}.avro"


# Deflate level 1: about half the CPU of the default level 6 for a few percent more bytes;
# bronze is written on every event's path and read only by replays.
_DEFLATE_LEVEL = 1


def write_avro(fh: IO[bytes], envelopes: Iterable[Envelope]) -> None:
    fastavro.writer(fh, _PARSED, envelopes, codec="deflate", codec_compression_level=_DEFLATE_LEVEL)


class BronzeHours:
    """One shard's bronze files, one per event-time hour, written when the shard is done.

    Each hour is an Avro container filling an in-memory buffer block by block (deflated),
    so holding a shard's hours costs the compressed bytes, not the records.
    """

    def __init__(self, *, root: str, run_id: str, shard: int) -> None:
        self._root, self._run_id, self._shard = root.rstrip("/"), run_id, shard
        self._open: dict[dt.datetime, tuple[io.BytesIO, fastavro.write.Writer]] = {}

    def add(self, envelope: Envelope) -> None:
        hour = envelope["event_time"].replace(minute=0, second=0, microsecond=0)
        if hour not in self._open:
            buffer = io.BytesIO()
            writer = fastavro.write.Writer(buffer, _PARSED, codec="deflate", compression_level=_DEFLATE_LEVEL)
            self._open[hour] = buffer, writer
        self._open[hour][1].write(envelope)

    def close(self) -> list[str]:
        """Write every hour's file (deterministic names: a retried shard overwrites its own); their paths."""
        paths = []
        for hour, (buffer, writer) in sorted(self._open.items()):
            writer.flush()
            path = f"{self._root}/{bronze_path(hour, run_id=self._run_id, shard=self._shard)}"
            with FileSystems.create(path) as fh:
                fh.write(buffer.getbuffer())
            paths.append(path)
        self._open.clear()
        return paths


def _write_encoded(fh: IO[bytes], encoded: Iterable[bytes]) -> None:
    write_avro(fh, (_CODER.decode(e) for e in encoded))


class WriteBronze(beam.PTransform):
    def __init__(self, *, root: str, run_id: str, shards: int = 1) -> None:
        super().__init__()
        self._root, self._run_id, self._shards = root, run_id, shards

    def expand(self, envelopes: PCollection) -> Any:
        run_id, shards = self._run_id, self._shards
        return (
            envelopes
            # Avro-encoded before the shuffle (the generated coder): cheaper than pickling dicts.
            | "ByFile"
            >> beam.Map(lambda e: (bronze_file(e, run_id=run_id, shards=shards), _CODER.encode(e))).with_output_types(
                tuple[str, bytes]
            )
            | "WriteAvro" >> WriteGroupedFiles(root=self._root, write_file=_write_encoded)
        )


def read_bronze(pattern: str) -> list[Envelope]:
    """Every envelope in the bronze files matching ``pattern`` (local or Beam filesystem URI)."""
    records: list[Envelope] = []
    for match in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(match.path) as fh:
            records.extend(fastavro.reader(fh))  # type: ignore[arg-type]
    return records
