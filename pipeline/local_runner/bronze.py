"""A shard's bronze: one Avro file per event hour, written when the shard is done (the local runner)."""

from __future__ import annotations

import datetime as dt
import io
from typing import IO

from apache_beam.io.filesystems import FileSystems

from pipeline.local_runner.spill import read_records, write_record
from pipeline.sinks.archive import archived_ids
from pipeline.sinks.bronze import AvroBlocks, bronze_prefix, encode_envelope, event_ids, hour_of, write_bronze_file
from pipeline.transforms.normalize import Envelope


class BronzeHours:
    """One shard's bronze files, one per event-time hour, written when the shard is done.

    A shard's events arrive in dedupe-bucket order, so every hour stays open to the end:
    holding each hour's container in memory grows with the input, and keeping a file open
    per hour means thousands of open files (or uploads). So events are first spilled to a few
    *hour-group* files (hours dealt round-robin to ``groups``), and :meth:`close` writes the
    groups one after another: memory holds one group's deflated containers, never the shard.

    An event is encoded to its Avro record once, when it is added: the spill holds those bytes
    (with its hour and id), and the hour's container is assembled from them without decoding.
    """

    def __init__(
        self, *, root: str, run_id: str, shard: int, spill_dir: str, groups: int = 1, batch_events: int = 500
    ) -> None:
        self._root, self._run_id, self._shard = root.rstrip("/"), run_id, shard
        self._groups, self._batch_events = max(1, groups), batch_events
        # Deterministic names per (run, shard): a retried shard overwrites its own spill.
        self._spill_paths = [f"{spill_dir.rstrip('/')}/{shard:05d}/{g:05d}.bin" for g in range(self._groups)]
        self._spills: dict[int, IO[bytes]] = {}
        # Per group: (hour start in epoch seconds, event_id, Avro record) of events not spilled yet.
        self._pending: dict[int, list[tuple[int, str, bytes]]] = {}
        self._hours: dict[int, dt.datetime] = {}  # epoch seconds -> the hour, as hour_of gave it

    def add(self, envelope: Envelope) -> None:
        hour = hour_of(envelope)
        start = int(hour.timestamp())
        self._hours.setdefault(start, hour)
        group = start // 3600 % self._groups
        pending = self._pending.setdefault(group, [])
        pending.append((start, envelope["event_id"], encode_envelope(envelope)))
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

    @property
    def _part(self) -> str:
        return f"{self._shard:05d}"

    def _prefix(self, hour: dt.datetime) -> str:
        return bronze_prefix(self._root, hour, run_id=self._run_id, part=self._part)

    def _write_group(self, spill_path: str) -> list[str]:
        # Each hour is an Avro container filling an in-memory buffer block by block (deflated),
        # so a group costs its compressed bytes, not its records.
        hours: dict[int, tuple[io.BytesIO, AvroBlocks]] = {}
        known: dict[int, set[str]] = {}  # ids the hour's other files hold: never archived twice
        for _, records in read_records(spill_path):
            for start, event_id, record in records:
                if start not in known:
                    hour = self._hours[start]
                    known[start] = archived_ids(self._root, hour, ids_of=event_ids, except_prefix=self._prefix(hour))
                if event_id in known[start]:
                    continue
                if start not in hours:
                    buffer = io.BytesIO()
                    hours[start] = buffer, AvroBlocks(buffer)
                hours[start][1].add(record)
        paths = []
        for start, (buffer, blocks) in sorted(hours.items()):
            blocks.flush()
            data = buffer.getvalue()
            hour = self._hours[start]
            paths.append(write_bronze_file(self._root, hour, run_id=self._run_id, part=self._part, data=data))
        return paths
