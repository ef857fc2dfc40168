"""The unbounded pipeline's warehouse writer: (table, row) pairs merged in small batches.

Rows wait at most ``flush_seconds`` (or until ``batch_size`` of them) per table, then one
``Warehouse.merge_rows`` writes them under the table's key rule: silver inserts an event only
if its event_id is not there within the TTL, the DLQ a dlq_id only once, event_counts_5m keeps
each window's latest count. So a retried batch, a message Pub/Sub redelivers, or a copy that
reached the sink after its dedupe state expired writes nothing twice (effectively once).
BigQuery gets a DML MERGE whose source is the batch itself (no load job: those are capped per
table and day), DuckDB an insert from the batch; locally the pipeline's process is the
warehouse's one writer.

The rows written come out again, for what must follow the write (the updates topic).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
import orjson
from apache_beam.metrics.metric import Metrics
from apache_beam.pvalue import PCollection

from logistics.settings import Settings
from logistics.warehouse import TableDef, connect, managed_tables
from pipeline.progress import PROGRESS
from pipeline.sinks.silver import DLQ

log = logging.getLogger(__name__)

_ATTEMPTS = 5  # a locked or briefly unreachable warehouse is waited for, then the bundle fails


class _MergeBatchDoFn(beam.DoFn):
    def __init__(self, *, settings: Settings) -> None:
        self._settings = settings
        self._tables: dict[str, TableDef] = {}
        self._written = Metrics.counter("ledger", "written")
        self._present = Metrics.counter("ledger", "already_present")

    def setup(self) -> None:
        self._tables = {t.name: t for t in managed_tables()}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tables": {}}

    def process(self, batch: tuple[Any, Iterable[bytes]]) -> Iterator[tuple[str, dict[str, Any]]]:
        sharded_key, encoded = batch
        table = self._tables[sharded_key.key]
        rows = [orjson.loads(line) for line in encoded]
        written, present = self._merge(table, rows)
        self._written.inc(written)
        self._present.inc(present)
        if table.name == DLQ:
            PROGRESS.add_written(dlq=written, already_present=0)
        elif table.same_event_within is not None:  # silver
            PROGRESS.add_written(
                silver=written,
                already_present=present,
                ingest_times=[dt.datetime.fromisoformat(r["ingest_time"].replace("Z", "+00:00")) for r in rows],
            )
        for row in rows:
            yield table.name, row

    def _merge(self, table: TableDef, rows: list[dict[str, Any]]) -> tuple[int, int]:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with connect(self._settings) as warehouse:
                    return warehouse.merge_rows(table, rows)
            except Exception as exc:
                if attempt == _ATTEMPTS:
                    raise
                wait = 0.5 * 2**attempt
                log.warning("writing %d row(s) to %s failed (%s); retrying in %.0f s", len(rows), table.name, exc, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")


class MergeRows(beam.PTransform):
    """(table, row) pairs -> the warehouse, in batches per table; outputs the (table, row) pairs written."""

    def __init__(self, *, settings: Settings, flush_seconds: float, batch_size: int = 1_000) -> None:
        super().__init__()
        self._settings, self._flush_seconds, self._batch_size = settings, flush_seconds, batch_size

    def expand(self, rows: PCollection) -> PCollection:
        return (
            rows
            # JSON bytes across the shuffle: cheaper than pickled dicts, and what the writer loads.
            | "Encode"
            >> beam.Map(lambda tr: (tr[0], orjson.dumps(tr[1], option=orjson.OPT_UTC_Z))).with_output_types(
                tuple[str, bytes]
            )
            | "BatchPerTable"
            >> beam.GroupIntoBatches.WithShardedKey(self._batch_size, max_buffering_duration_secs=self._flush_seconds)
            | "Merge" >> beam.ParDo(_MergeBatchDoFn(settings=self._settings))
        )
