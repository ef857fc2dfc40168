"""The file source: newline-delimited JSON records (blank lines are not records)."""

from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PBegin


class ReadJsonLines(beam.PTransform):
    def __init__(self, pattern: str) -> None:
        super().__init__()
        self._pattern = pattern

    def expand(self, pbegin: PBegin) -> Any:
        return (
            pbegin
            | "ReadLines" >> beam.io.ReadFromText(self._pattern)
            | "SkipBlank" >> beam.Filter(lambda line: bool(line.strip()))
        )
