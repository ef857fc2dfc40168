"""Batches: the local runner's unit of work at every Beam boundary.

The transforms stay pure, per-event functions; only what crosses Beam is batched. A
per-element DoFn pays Beam's fixed cost (bundle bookkeeping, coders, metrics) on every
event, which on a short JSON line costs more than normalizing and validating it. So the
bounded path hands Beam a few thousand records at a time, and spills the valid envelopes
of each batch to their dedupe shard's files as one pickled list per (shard, bucket):
pickling a whole list costs less than Avro-encoding each record and decoding it back, and on disk the
shuffled events cost no memory however many there are (see :mod:`pipeline.local_runner.spill`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import Metrics
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.dead_letter import DEAD_LETTERS, DeadLetter
from pipeline.local_runner.collector import tune_collector
from pipeline.local_runner.spill import SpillWriter
from pipeline.transforms.check import check
from pipeline.transforms.normalize import Envelope


class CheckBatchDoFn(beam.DoFn):
    """A batch of raw records -> valid envelopes spilled to files; DeadLetters on ``DEAD_LETTERS``.

    The main output, emitted when the bundle's files are closed, is ``(shard, (bucket, path))``
    per spill file (see :mod:`pipeline.local_runner.spill`): names, not events, cross the GroupByKey.
    """

    def __init__(self, *, source_system: str, shards: int, buckets: int, shuffle_dir: str) -> None:
        self._source_system, self._shards, self._buckets = source_system, shards, buckets
        self._shuffle_dir = shuffle_dir
        self._spill: SpillWriter | None = None
        self._received = Metrics.counter("ledger", "received")

    def setup(self) -> None:
        tune_collector()  # the first step of a run in each worker process

    def start_bundle(self) -> None:
        self._spill = SpillWriter(root=self._shuffle_dir, shards=self._shards, buckets=self._buckets)

    def process(self, records: list[Any]) -> Iterator[Any]:
        assert self._spill is not None, "start_bundle() opens the spill"
        self._received.inc(len(records))
        now = dt.datetime.now(dt.UTC)
        valid: list[Envelope] = []
        for record in records:
            result = check(record, source_system=self._source_system, ingest_time=now)
            if isinstance(result, DeadLetter):
                yield beam.pvalue.TaggedOutput(DEAD_LETTERS, result)  # rare: per element is fine
            else:
                valid.append(result)
        self._spill.add(valid)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        assert self._spill is not None, "start_bundle() opens the spill"
        for written in self._spill.close():
            yield WindowedValue(written, MIN_TIMESTAMP, (GlobalWindow(),))
        self._spill = None
