"""Write grouped records to files through Beam filesystems (local paths and gs:// alike).

Beam's ``fileio.WriteToFiles`` cannot put destinations in sub-folders on the local
filesystem (its final rename fails and the error is only logged, so data would be
silently lost), hence this small transform: group by target file, write each group once.
File names are deterministic, so a retried bundle overwrites its own file.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import PCollection

FileWriter = Callable[[IO[bytes], Iterable[Any]], None]


def shard_of(key: str, shards: int) -> int:
    """Stable across processes (unlike ``hash``), so a record always lands in the same shard."""
    return zlib.crc32(key.encode()) % shards


class _WriteGroupDoFn(beam.DoFn):
    def __init__(self, root: str, write_file: FileWriter) -> None:
        self._root = root.rstrip("/")
        self._write_file = write_file

    def process(self, group: tuple[str, Iterable[Any]]) -> Iterator[str]:
        relative, records = group
        path = f"{self._root}/{relative}"
        with FileSystems.create(path) as fh:
            self._write_file(fh, records)
        yield path


class WriteGroupedFiles(beam.PTransform):
    """(relative file path, record) pairs -> one file per path; outputs the written paths."""

    def __init__(self, *, root: str, write_file: FileWriter) -> None:
        super().__init__()
        self._root = root
        self._write_file = write_file

    def expand(self, keyed: PCollection) -> PCollection:
        return (
            keyed
            | "GroupByFile" >> beam.GroupByKey()
            | "WriteFile" >> beam.ParDo(_WriteGroupDoFn(self._root, self._write_file))
        )
