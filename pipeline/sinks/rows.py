"""The unbounded pipeline's warehouse writer: (table, row) pairs merged in small batches.

Rows wait at most ``flush_seconds`` (or until ``batch_size`` of them), then one connection
writes them, ``Warehouse.merge_rows`` per table under the table's key rule: silver inserts an event only
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
        if not self._tables:  # a runner may call setup again on an instance it keeps
            self._tables = {t.name: t for t in managed_tables()}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tables": {}}

    def process(self, batch: tuple[Any, Iterable[bytes]]) -> Iterator[tuple[str, dict[str, Any]]]:
        by_table: dict[str, list[dict[str, Any]]] = {}
        for line in batch[1]:
            table, row = orjson.loads(line)
            by_table.setdefault(table, []).append(row)
        results = self._merge(by_table)
        for name, (written, present) in results.items():
            self._written.inc(written)
            self._present.inc(present)
            rows = by_table[name]
            if name == DLQ:
                PROGRESS.add_written(dlq=written, already_present=present)
            elif self._tables[name].same_event_within is not None:  # silver
                PROGRESS.add_written(
                    silver=written,
                    already_present=present,
                    ingest_times=[dt.datetime.fromisoformat(r["ingest_time"].replace("Z", "+00:00")) for r in rows],
                )
            for row in rows:
                yield name, row

    def _merge(self, by_table: dict[str, list[dict[str, Any]]]) -> dict[str, tuple[int, int]]:
        """One connection and one transaction for the batch's tables: its silver and DLQ rows
        become visible together (DuckDB; on BigQuery each table's MERGE commits on its own)."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with connect(self._settings) as warehouse, warehouse.transaction():
                    return {name: warehouse.merge_rows(self._tables[name], rows) for name, rows in by_table.items()}
            except Exception as exc:
                if attempt == _ATTEMPTS:
                    raise
                wait = 0.5 * 2**attempt
                log.warning("writing a batch of %s failed (%s); retrying in %.0f s", sorted(by_table), exc, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")


class MergeRows(beam.PTransform):
    """(table, row) pairs -> the warehouse, in batches (one connection per batch); outputs the
    (table, row) pairs written. One key for every table: a distributed runner splits it over
    workers itself (sharded keys), and locally a batch is one short warehouse connection."""

    def __init__(self, *, settings: Settings, flush_seconds: float, batch_size: int = 2_000) -> None:
        super().__init__()
        self._settings, self._flush_seconds, self._batch_size = settings, flush_seconds, batch_size

    def expand(self, rows: PCollection) -> PCollection:
        return (
            rows
            # JSON bytes across the shuffle: cheaper than pickled dicts, and what the writer loads.
            | "Encode"
            >> beam.Map(lambda tr: ("rows", orjson.dumps(tr, option=orjson.OPT_UTC_Z))).with_output_types(
                tuple[str, bytes]
            )
            | "Batch"
            >> beam.GroupIntoBatches.WithShardedKey(self._batch_size, max_buffering_duration_secs=self._flush_seconds)
            | "Merge" >> beam.ParDo(_MergeBatchDoFn(settings=self._settings))
        )
