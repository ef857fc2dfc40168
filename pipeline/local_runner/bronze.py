"""A shard's bronze: one Avro file per event hour, written when the shard is done (the local runner)."""

from __future__ import annotations

import datetime as dt
import re
import struct
from collections.abc import Iterable
from typing import IO

from apache_beam.io.filesystems import FileSystems

from pipeline.sinks.archive import archived_ids
from pipeline.sinks.avro import BLOCK_BYTES, container, deflate_block, encode_envelope_and_hour, sync_marker_of
from pipeline.sinks.bronze import bronze_prefix, event_ids, hour_of, write_bronze_file
from pipeline.transforms.normalize import Envelope

# Envelopes are encoded this many at a time, not one by one as they arrive: a tight loop of
# encoding keeps its code and tables in the CPU's caches, which the other stages between two
# arrivals evict (one at a time costs more than twice as much CPU in a run), and holding this
# many envelopes costs next to nothing.
PENDING_ENVELOPES = 1_024
# A spilled block: its hour's start (epoch seconds), its record count, its deflated length; then the data.
_BLOCK_HEADER = struct.Struct(">qII")
# What follows ``events-<hour>-<run>-`` in the name of a file the local runner's shards write.
_SHARD_FILE_TAIL = re.compile(r"\d{5}-[0-9a-f]{16}\.avro")


class _OpenHour:
    """An hour's records not yet deflated, and the ids its other files already hold."""

    __slots__ = ("group", "hour", "known", "records", "size", "start")

    def __init__(self, *, hour: dt.datetime, start: int, group: int, known: set[str]) -> None:
        self.hour, self.start, self.group, self.known = hour, start, group, known
        self.records: list[bytes] = []
        self.size = 0


class BronzeHours:
    """One shard's bronze files, one per event-time hour, written when the shard is done.

    A shard's events arrive in dedupe-bucket order, so every hour stays open to the end:
    holding each hour's container in memory grows with the input, and keeping a file open
    per hour means thousands of open files (or uploads). So each hour's records are deflated a
    block at a time, as the container will hold them, and the blocks spilled to a few
    *hour-group* files (hours dealt round-robin to ``groups``); :meth:`close` reads the groups
    back one after another and copies each hour's blocks into its container: memory holds an
    open block per hour and one group's deflated blocks, never the shard. Envelopes are encoded
    :data:`PENDING_ENVELOPES` at a time, in the order they arrived.

    An hour's other files are read once, when its first event arrives: an id they hold is not
    archived again. The files of this run's other shards are not read: they hold other ids
    (every copy of an id goes to one shard).
    """

    def __init__(
        self, *, root: str, run_id: str, shard: int, spill_dir: str, groups: int = 1, block_bytes: int = BLOCK_BYTES
    ) -> None:
        self._root, self._run_id, self._shard = root.rstrip("/"), run_id, shard
        self._groups, self._block_bytes = max(1, groups), block_bytes
        # Deterministic names per (run, shard): a retried shard overwrites its own spill.
        self._spill_paths = [f"{spill_dir.rstrip('/')}/{shard:05d}/{g:05d}.bin" for g in range(self._groups)]
        self._spills: dict[int, IO[bytes]] = {}
        self._by_start: dict[int, _OpenHour] = {}  # by the hour's start in epoch seconds
        self._pending: list[Envelope] = []

    def add(self, envelope: Envelope) -> None:
        self._pending.append(envelope)
        if len(self._pending) >= PENDING_ENVELOPES:
            self._write_pending()

    def _write_pending(self) -> None:
        """Encode the pending envelopes into their hours' blocks, in the order they arrived."""
        by_start = self._by_start
        for envelope in self._pending:
            # its hour from the same pass (None: an event time not in UTC, whose hour is hour_of's)
            start, record = encode_envelope_and_hour(envelope)
            open_hour = by_start.get(start) if start is not None else None
            if open_hour is None:
                open_hour = self._open_hour(hour_of(envelope))
            if open_hour.known and envelope["event_id"] in open_hour.known:
                continue
            open_hour.records.append(record)
            open_hour.size += len(record)
            if open_hour.size >= self._block_bytes:
                self._spill(open_hour)
        self._pending.clear()

    def _open_hour(self, hour: dt.datetime) -> _OpenHour:
        """The hour's open state, one per instant: the first time seen of an hour names its file."""
        start = int(hour.timestamp())
        if start in self._by_start:
            return self._by_start[start]
        own_run = bronze_prefix(self._root, hour, run_id=self._run_id, part="")

        def ids_of(path: str) -> Iterable[str]:
            if path.startswith(own_run) and _SHARD_FILE_TAIL.fullmatch(path, len(own_run)):
                return ()  # another shard of this run: other ids
            return event_ids(path)

        known = archived_ids(self._root, hour, ids_of=ids_of, except_prefix=self._prefix(hour))
        open_hour = self._by_start[start] = _OpenHour(
            hour=hour, start=start, group=start // 3600 % self._groups, known=known
        )
        return open_hour

    def _spill(self, open_hour: _OpenHour) -> None:
        data = deflate_block(open_hour.records)
        spill = self._spills.get(open_hour.group)
        if spill is None:
            spill = self._spills[open_hour.group] = FileSystems.create(self._spill_paths[open_hour.group])
        spill.write(_BLOCK_HEADER.pack(open_hour.start, len(open_hour.records), len(data)))
        spill.write(data)
        open_hour.records, open_hour.size = [], 0

    def close(self) -> list[str]:
        """Write every hour's file (a retried shard's file replaces its own earlier one); their paths."""
        self._write_pending()
        hours: dict[int, dt.datetime] = {}
        for start, open_hour in self._by_start.items():
            hours[start] = open_hour.hour
            if open_hour.records:
                self._spill(open_hour)
        self._by_start.clear()
        for fh in self._spills.values():
            fh.close()
        paths: list[str] = []
        for group in sorted(self._spills):
            paths.extend(self._write_group(self._spill_paths[group], hours))
        FileSystems.delete([self._spill_paths[g] for g in sorted(self._spills)])
        self._spills.clear()
        return paths

    @property
    def _part(self) -> str:
        return f"{self._shard:05d}"

    def _prefix(self, hour: dt.datetime) -> str:
        return bronze_prefix(self._root, hour, run_id=self._run_id, part=self._part)

    def _write_group(self, spill_path: str, hours: dict[int, dt.datetime]) -> list[str]:
        # A group costs its deflated blocks, read back in the order they were spilled.
        blocks: dict[int, list[tuple[int, bytes]]] = {}
        with FileSystems.open(spill_path) as fh:
            while header := fh.read(_BLOCK_HEADER.size):
                start, count, size = _BLOCK_HEADER.unpack(header)
                blocks.setdefault(start, []).append((count, fh.read(size)))
        paths = []
        for start in sorted(blocks):
            hour = hours[start]
            data = container(blocks.pop(start), sync_marker=sync_marker_of(self._prefix(hour)))
            paths.append(write_bronze_file(self._root, hour, run_id=self._run_id, part=self._part, data=data))
        return paths
