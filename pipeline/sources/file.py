"""The file source: newline-delimited JSON records (blank lines are not records)."""

from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PBegin

from pipeline.sources.landing import from_line


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
