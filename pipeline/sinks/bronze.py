"""bronze: the envelope archived as Avro (schema embedded), ``events/yyyy/mm/dd/hh/``.

An archived envelope carries what the PII stage added to it (``pii_sealed``, the sealed precise
values of generalized fields), so a replay from bronze rebuilds silver with them.

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

from contracts.generated.coders import BRONZE_SCHEMA, BronzeCoder
from pipeline.sinks._files import WriteGroupedFiles, shard_of
from pipeline.sinks.spill import read_records, write_record
from pipeline.transforms.normalize import Envelope

_PARSED = fastavro.parse_schema(BRONZE_SCHEMA)
_CODER = BronzeCoder()


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

    A shard's events arrive in dedupe-bucket order, so every hour stays open to the end:
    holding each hour's container in memory grows with the input, and keeping a file open
    per hour means thousands of open files (or uploads). So events are first spilled to a few
    *hour-group* files (hours dealt round-robin to ``groups``), and :meth:`close` writes the
    groups one after another: memory holds one group's deflated containers, never the shard.
    """

    def __init__(
        self, *, root: str, run_id: str, shard: int, spill_dir: str, groups: int = 1, batch_events: int = 500
    ) -> None:
        self._root, self._run_id, self._shard = root.rstrip("/"), run_id, shard
        self._groups, self._batch_events = max(1, groups), batch_events
        # Deterministic names per (run, shard): a retried shard overwrites its own spill.
        self._spill_paths = [f"{spill_dir.rstrip('/')}/{shard:05d}/{g:05d}.bin" for g in range(self._groups)]
        self._spills: dict[int, IO[bytes]] = {}
        self._pending: dict[int, list[Envelope]] = {}

    def add(self, envelope: Envelope) -> None:
        group = int(_hour_of(envelope).timestamp()) // 3600 % self._groups
        pending = self._pending.setdefault(group, [])
        pending.append(envelope)
        if len(pending) >= self._batch_events:
            self._spill(group)

    def _spill(self, group: int) -> None:
        pending = self._pending.pop(group, [])
        if not pending:
            return
        if group not in self._spills:
            self._spills[group] = FileSystems.create(self._spill_paths[group])
        write_record(self._spills[group], [], pending)

    def close(self) -> list[str]:
        """Write every hour's file (deterministic names: a retried shard overwrites its own); their paths."""
        for group in list(self._pending):
            self._spill(group)
        for fh in self._spills.values():
            fh.close()
        paths: list[str] = []
        for group in sorted(self._spills):
            paths.extend(self._write_group(self._spill_paths[group]))
        FileSystems.delete([self._spill_paths[g] for g in sorted(self._spills)])
        self._spills.clear()
        return paths

    def _write_group(self, spill_path: str) -> list[str]:
        # Each hour is an Avro container filling an in-memory buffer block by block (deflated),
        # so a group costs its compressed bytes, not its records.
        hours: dict[dt.datetime, tuple[io.BytesIO, fastavro.write.Writer]] = {}
        for _, envelopes in read_records(spill_path):
            for envelope in envelopes:
                hour = _hour_of(envelope)
                if hour not in hours:
                    buffer = io.BytesIO()
                    writer = fastavro.write.Writer(buffer, _PARSED, codec="deflate", compression_level=_DEFLATE_LEVEL)
                    hours[hour] = buffer, writer
                hours[hour][1].write(envelope)
        paths = []
        for hour, (buffer, writer) in sorted(hours.items()):
            writer.flush()
            path = f"{self._root}/{bronze_path(hour, run_id=self._run_id, shard=self._shard)}"
            with FileSystems.create(path) as fh:
                fh.write(buffer.getbuffer())
            paths.append(path)
        return paths


def _hour_of(envelope: Envelope) -> dt.datetime:
    event_time: dt.datetime = envelope["event_time"]
    return event_time.replace(minute=0, second=0, microsecond=0)


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
