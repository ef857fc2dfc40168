"""The file source: newline-delimited JSON records (blank lines are not records).

Two shapes of the same source:
- :class:`ReadJsonLines`, one element per line (what per-element stages and streams use);
- :class:`ReadLineBatches`, lists of lines read from byte ranges of each file: the bounded
  pipeline's source, because Beam's fixed cost per element dwarfs the work on a short line.
  Ranges make a big file parallel on a distributed runner; a range owns every line that
  *starts* inside it, so each line is read exactly once whatever the split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import PBegin

from pipeline.sources.landing import from_line

DEFAULT_BATCH_LINES = 2_000
DEFAULT_RANGE_BYTES = 32 * 1024 * 1024


class ReadJsonLines(beam.PTransform):
    """Raw JSON lines (``records=False``) or landing-file SourceRecords (``records=True``)."""

    def __init__(self, pattern: str, *, records: bool = False) -> None:
        super().__init__()
        self._pattern = pattern
        self._records = records

    def expand(self, pbegin: PBegin) -> Any:
        lines = (
            pbegin
            | "ReadLines" >> beam.io.ReadFromText(self._pattern)
            | "SkipBlank" >> beam.Filter(lambda line: bool(line.strip()))
        )
        return lines | "ParseLanding" >> beam.Map(from_line) if self._records else lines


@dataclass(frozen=True)
class ByteRange:
    """Lines of ``path`` that start at an offset in ``[start, end)`` (``end=None``: the whole file)."""

    path: str
    start: int = 0
    end: int | None = None


def byte_ranges(path: str, size: int, *, range_bytes: int = DEFAULT_RANGE_BYTES) -> list[ByteRange]:
    """``path`` cut into ranges of about ``range_bytes``; a compressed file cannot seek, so it is one range."""
    if size <= range_bytes or CompressionTypes.detect_compression_type(path) != CompressionTypes.UNCOMPRESSED:
        return [ByteRange(path)]
    return [ByteRange(path, start, min(start + range_bytes, size)) for start in range(0, size, range_bytes)]


def read_range(part: ByteRange) -> Iterator[bytes]:
    """The non-blank lines starting in ``part`` (line ends stripped, bytes as stored)."""
    whole = part.end is None
    compression = CompressionTypes.AUTO if whole else CompressionTypes.UNCOMPRESSED
    with FileSystems.open(part.path, compression_type=compression) as fh:
        position = part.start
        if part.start > 0:
            # The line straddling ``start`` belongs to the previous range: skip to its end. Seeking
            # to start - 1 first keeps a line that begins exactly at ``start`` in this range.
            fh.seek(part.start - 1)
            position = part.start - 1 + len(fh.readline())
        while part.end is None or position < part.end:
            line = fh.readline()
            if not line:
                return
            position += len(line)
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield line


def batched(lines: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _SplitDoFn(beam.DoFn):
    def __init__(self, range_bytes: int) -> None:
        self._range_bytes = range_bytes

    def process(self, metadata: Any) -> Iterator[ByteRange]:
        yield from byte_ranges(metadata.path, metadata.size_in_bytes, range_bytes=self._range_bytes)


class _ReadRangeDoFn(beam.DoFn):
    def __init__(self, *, batch_lines: int, records: bool) -> None:
        self._batch_lines, self._records = batch_lines, records

    def process(self, part: ByteRange) -> Iterator[list[Any]]:
        for batch in batched(read_range(part), self._batch_lines):
            yield [from_line(line) for line in batch] if self._records else batch


class ReadLineBatches(beam.PTransform):
    """Lists of up to ``batch_lines`` raw lines (bytes), or SourceRecords with ``records=True``."""

    def __init__(
        self,
        pattern: str,
        *,
        records: bool = False,
        batch_lines: int = DEFAULT_BATCH_LINES,
        range_bytes: int = DEFAULT_RANGE_BYTES,
    ) -> None:
        super().__init__()
        self._pattern, self._records = pattern, records
        self._batch_lines, self._range_bytes = batch_lines, range_bytes

    def expand(self, pbegin: PBegin) -> Any:
        return (
            pbegin
            | "Match" >> fileio.MatchFiles(self._pattern)
            | "Split" >> beam.ParDo(_SplitDoFn(self._range_bytes))
            # Ranges are few and tiny: spreading them lets a distributed runner read them in parallel.
            | "Spread" >> beam.Reshuffle()
            | "ReadRanges" >> beam.ParDo(_ReadRangeDoFn(batch_lines=self._batch_lines, records=self._records))
        )
