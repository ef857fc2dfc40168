"""Spill files: the local runner's shuffle on disk, so memory does not grow with the input.

The local runner (FnApiRunner) keeps everything that crosses a GroupByKey in memory, in
several copies; at 1M events that alone took ~2 GB. So the check step writes each batch's
valid envelopes to spill files through Beam filesystems (``<staging>/_shuffle/...``, local
or ``gs://`` alike) and the GroupByKey carries only the files' names. A shard then reads its
files back one *bucket* at a time: a bucket is a hash partition of event_id inside the shard,
so all copies of an id share a bucket and dedupe needs to see only one bucket at once.

A spill file is a sequence of records, each ``<ids length><envelopes length>`` (two
big-endian uint32) then the pickled ids and the pickled envelopes of one batch; the ids come
apart so that the first dedupe pass (which ids repeat?) skips the envelopes unread.
Pickle is safe here: the files are this job's own, written and read by the same code.
"""

from __future__ import annotations

import math
import os
import pickle
import struct
import uuid
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from apache_beam.io.filesystems import FileSystems

SHUFFLE_DIR = "_shuffle"
# Input bytes per (shard, bucket): ~35k generated events, whose ids (and the copies of the
# repeated ones) are all a shard's dedupe holds at once.
BUCKET_INPUT_BYTES = 16 * 1024 * 1024
_HEADER = struct.Struct(">II")


def shuffle_root(staging_dir: str) -> str:
    """Spill files live under the run's staging folder, which the loader step removes after the load."""
    return f"{staging_dir.rstrip('/')}/{SHUFFLE_DIR}"


def buckets_for(input_bytes: int, *, shards: int, bucket_bytes: int = BUCKET_INPUT_BYTES) -> int:
    """Buckets per shard so that each holds about ``bucket_bytes`` of input: memory stays flat as input grows."""
    return max(1, math.ceil(input_bytes / max(1, shards) / bucket_bytes))


def input_bytes(pattern: str) -> int:
    """Total size of the files matching ``pattern`` (0 if none yet), to size the buckets when the pipeline is built."""
    matched = FileSystems.match([pattern])[0].metadata_list
    return sum(m.size_in_bytes for m in matched)


def place(event_id: str, *, shards: int, buckets: int) -> tuple[int, int]:
    """(shard, bucket) of an event id; the shard is :func:`~pipeline.sinks._files.shard_of`'s."""
    digest = zlib.crc32(event_id.encode())
    return digest % shards, (digest // shards) % buckets


def write_record(fh: IO[bytes], ids: list[str], envelopes: list[Any]) -> None:
    ids_bytes = pickle.dumps(ids, protocol=pickle.HIGHEST_PROTOCOL)
    envelope_bytes = pickle.dumps(envelopes, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_HEADER.pack(len(ids_bytes), len(envelope_bytes)))
    fh.write(ids_bytes)
    fh.write(envelope_bytes)


def read_records(path: str, *, envelopes: bool = True) -> Iterator[tuple[list[str], list[Any]]]:
    """``(ids, envelopes)`` per record of a spill file; ``envelopes=False`` skips the envelopes undecoded."""
    with FileSystems.open(path) as fh:
        while header := fh.read(_HEADER.size):
            ids_length, envelopes_length = _HEADER.unpack(header)
            ids: list[str] = pickle.loads(fh.read(ids_length))
            if envelopes:
                yield ids, pickle.loads(fh.read(envelopes_length))
            else:
                fh.seek(envelopes_length, os.SEEK_CUR)
                yield ids, []


@dataclass(frozen=True)
class SpilledBucket:
    """The spill files of one (shard, bucket): every copy of each of its event ids, in any number of files."""

    paths: tuple[str, ...]

    def event_ids(self) -> Iterator[str]:
        for path in self.paths:
            for ids, _ in read_records(path, envelopes=False):
                yield from ids

    def envelopes(self) -> Iterator[Any]:
        for path in self.paths:
            for _, envelopes in read_records(path):
                yield from envelopes


def spilled_buckets(parts: Iterable[tuple[int, str]]) -> list[SpilledBucket]:
    """``(bucket, path)`` pairs of one shard (a GroupByKey's values) -> a SpilledBucket per bucket, in order."""
    by_bucket: dict[int, list[str]] = {}
    for bucket, path in parts:
        by_bucket.setdefault(bucket, []).append(path)
    return [SpilledBucket(tuple(sorted(by_bucket[b]))) for b in sorted(by_bucket)]


class SpillWriter:
    """One writer's spill files, one per (shard, bucket), opened on first use.

    File names are unique per writer (a uuid): a retried bundle writes new files, and only the
    names a bundle emits on success ever reach the GroupByKey, so a failed attempt's files are
    never read (they go with the staging folder).
    """

    def __init__(self, *, root: str, shards: int, buckets: int) -> None:
        self._root, self._shards, self._buckets = root.rstrip("/"), shards, buckets
        self._writer = uuid.uuid4().hex
        self._files: dict[tuple[int, int], tuple[str, IO[bytes]]] = {}

    def add(self, envelopes: Iterable[Any]) -> None:
        """Spill one batch of envelopes, one record per (shard, bucket) it touches."""
        grouped: dict[tuple[int, int], list[Any]] = {}
        for envelope in envelopes:
            target = place(envelope["event_id"], shards=self._shards, buckets=self._buckets)
            grouped.setdefault(target, []).append(envelope)
        for target, group in grouped.items():
            write_record(self._file(target), [e["event_id"] for e in group], group)

    def _file(self, target: tuple[int, int]) -> IO[bytes]:
        if target not in self._files:
            shard, bucket = target
            path = f"{self._root}/{shard:05d}/{bucket:05d}/{self._writer}.bin"
            self._files[target] = path, FileSystems.create(path)
        return self._files[target][1]

    def close(self) -> list[tuple[int, tuple[int, str]]]:
        """Close every file; ``(shard, (bucket, path))`` per file written."""
        written = []
        for (shard, bucket), (path, fh) in sorted(self._files.items()):
            fh.close()
            written.append((shard, (bucket, path)))
        self._files.clear()
        return written
