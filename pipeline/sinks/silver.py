"""silver, DLQ and counts for bounded runs: rows staged as Parquet by the workers, loaded by one writer.

DuckDB allows one writer process, and BigQuery loads files for free, so workers never open
the warehouse: they stage a Parquet file per table (``<staging>/<table>/<writer>.parquet``,
typed by the generated schema: :mod:`logistics.warehouse.columnar`) plus the 5-minute windows
their silver rows fall in, and :func:`load_staged` (run once, after the pipeline) writes them
under each table's key rule (``logistics.warehouse``: an event_id already in silver within its
TTL, a dlq_id already in the DLQ, is skipped), which makes replays idempotent, then recounts
those windows from silver. The unbounded pipeline writes the same tables in small batches
instead (:mod:`pipeline.sinks.rows`).

Parquet rather than Arrow IPC: DuckDB reads both, but a BigQuery load job takes Parquet (and
not IPC), so one staged file serves both backends, from a local folder or Cloud Storage.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import IO, Any

import apache_beam as beam
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from logistics.warehouse import Warehouse, dlq_table, silver_tables
from logistics.warehouse.columnar import TableRows, json_columns
from pipeline.dead_letter import DeadLetter
from pipeline.ledger import Ledger, record
from pipeline.windows.event_counts import recount_windows

DLQ = "dlq_events"
WINDOWS = "_windows"  # staged lists of the 5-minute windows each writer's silver rows fall in
_SILVER = frozenset(t.name for t in silver_tables().values())
_TABLES = {t.name: t for t in [*silver_tables().values(), dlq_table()]}  # what a writer stages
ROWS_PER_GROUP = 4_096  # rows a writer holds per table before writing them out (a Parquet row group)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def done_token(**counted: int) -> WindowedValue:
    """What a bounded writer emits from ``finish_bundle`` once its files are closed, with what it
    counted for the run's ledger: the load (:mod:`pipeline.sinks.load`) waits for every writer's
    token and sums their counts."""
    return WindowedValue(counted, MIN_TIMESTAMP, (GlobalWindow(),))


def dlq_row(dead: DeadLetter) -> tuple[str, dict[str, Any]]:
    return DLQ, dead.to_row(failed_time=dt.datetime.now(dt.UTC))


class StagedTables:
    """One writer's staged rows: ``<staging>/<table>/<name>.parquet`` per table, and
    ``<staging>/_windows/<name>.json``: the windows its silver rows fall in.

    Rows are kept as they come (as their column values: :class:`TableRows`) and written
    column-wise ``rows_per_group`` at a time (a Parquet row group each), so memory holds at most
    that many rows per table, whatever the input."""

    def __init__(
        self, *, staging_dir: str, name: str, window_seconds: int, rows_per_group: int = ROWS_PER_GROUP
    ) -> None:
        self._root, self._name, self._window_seconds = staging_dir.rstrip("/"), name, window_seconds
        self._rows_per_group = rows_per_group
        self._pending: dict[str, TableRows] = {}
        self._files: dict[str, tuple[IO[bytes], pq.ParquetWriter]] = {}
        self._windows: set[int] = set()  # window starts, µs since the epoch

    def add(self, table: str, row: dict[str, Any]) -> None:
        pending = self._pending.get(table)
        if pending is None:
            pending = self._pending[table] = TableRows(_TABLES[table])
        if pending.add(row) >= self._rows_per_group:
            self._write(table)

    def _write(self, table: str) -> None:
        batch = self._pending[table].batch()
        if not batch.num_rows:
            return
        definition = _TABLES[table]
        opened = self._files.get(table)
        if opened is None:
            # Deterministic name: a retried writer overwrites its own file.
            fh = FileSystems.create(f"{self._root}/{table}/{self._name}.parquet")
            # Row groups are read whole (no statistics needed) and ids are unique (no dictionaries).
            # Uncompressed: the file is written once and read once, by the load, and snappy took half
            # of its write time (~0.45 µs a silver row) to make it ~3x smaller (~145 against ~470
            # bytes a row, mostly the payload's JSON text): disk and Cloud Storage bytes are the
            # cheaper side of that trade for a file the load deletes with its run.
            writer = pq.ParquetWriter(
                fh, batch.schema, compression="none", use_dictionary=False, write_statistics=False
            )
            opened = self._files[table] = fh, writer
        opened[1].write_batch(batch)
        if definition.same_event_within is not None:  # silver: the windows its rows fall in
            micros = batch.column(definition.same_event_within.time_column).cast(pa.int64()).to_numpy()
            width = self._window_seconds * 1_000_000
            self._windows.update(np.unique(micros - micros % width).tolist())

    def close(self) -> None:
        for table in list(self._pending):
            self._write(table)
        self._pending.clear()
        for fh, writer in self._files.values():
            writer.close()
            fh.close()
        self._files.clear()
        if self._windows:
            starts = sorted(_EPOCH + dt.timedelta(microseconds=m) for m in self._windows)
            with FileSystems.create(f"{self._root}/{WINDOWS}/{self._name}.json") as fh:
                fh.write(orjson.dumps(starts, option=orjson.OPT_UTC_Z))
            self._windows.clear()


def staged_rows(staging_dir: str, table: str) -> Iterator[dict[str, Any]]:
    """The staged rows of ``table`` as a load reads them (times as UTC datetimes, JSON columns
    parsed), a row group at a time."""
    jsons = json_columns(_TABLES[table])
    for path in staged_files(staging_dir, table):
        with FileSystems.open(path) as fh:
            for batch in pq.ParquetFile(fh).iter_batches():
                for row in batch.to_pylist():
                    for name in jsons:
                        if row[name] is not None:
                            row[name] = orjson.loads(row[name])
                    yield row


class StageRowsDoFn(beam.DoFn):
    """(table, row) pairs -> one StagedTables per bundle (a retried bundle's rows are staged twice;
    the load keeps one per key); a done token per bundle (:mod:`pipeline.sinks.load`)."""

    def __init__(self, *, staging_dir: str, window_seconds: int) -> None:
        self._staging_dir, self._window_seconds = staging_dir, window_seconds
        self._tables: StagedTables | None = None

    def start_bundle(self) -> None:
        self._tables = StagedTables(
            staging_dir=self._staging_dir, name=uuid.uuid4().hex, window_seconds=self._window_seconds
        )

    def process(self, table_row: tuple[str, dict[str, Any]]) -> None:
        assert self._tables is not None, "start_bundle() opens the files"
        self._tables.add(*table_row)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        if self._tables is not None:
            self._tables.close()
            self._tables = None
        yield done_token()


@dataclass
class LoadResult:
    inserted: dict[str, int] = field(default_factory=dict)  # table -> new rows
    already_present: dict[str, int] = field(default_factory=dict)  # table -> rows skipped (replays)
    windows_recounted: int = 0

    def completed(self, counted: Ledger) -> Ledger:
        """``counted`` (what the run's steps counted: received, duplicates, alerts) with what this load wrote."""
        return replace(
            counted,
            silver_inserted={t: n for t, n in self.inserted.items() if t in _SILVER},
            silver_already_present=sum(n for t, n in self.already_present.items() if t in _SILVER),
            dlq=self.inserted.get(DLQ, 0),
            dlq_already_present=self.already_present.get(DLQ, 0),
        )


def staged_files(staging_dir: str, table: str) -> list[str]:
    """Non-empty staged files of ``table`` (a local folder or any Beam filesystem URI)."""
    matches = FileSystems.match([f"{staging_dir.rstrip('/')}/{table}/*.parquet"])[0].metadata_list
    return sorted(m.path for m in matches if m.size_in_bytes > 0)


def staged_windows(staging_dir: str) -> set[dt.datetime]:
    windows: set[dt.datetime] = set()
    for match in FileSystems.match([f"{staging_dir.rstrip('/')}/{WINDOWS}/*.json"])[0].metadata_list:
        with FileSystems.open(match.path) as fh:
            windows.update(dt.datetime.fromisoformat(w.replace("Z", "+00:00")) for w in orjson.loads(fh.read()))
    return windows


def load_staged(
    warehouse: Warehouse,
    staging_dir: str,
    *,
    window_seconds: int,
    counted: Ledger | None = None,
    input: str | None = None,
) -> LoadResult:
    """Load every staged table (the single writer step), then recount the windows it touched.

    ``counted``: the run's ledger so far (received, duplicates, alerts), completed with what the
    load wrote and recorded (:mod:`pipeline.ledger`) in the same transaction as the rows."""
    warehouse.ensure_tables()
    result = LoadResult()
    # A run's silver and DLQ rows, its ledger and the recount of its windows become visible together
    # (DuckDB): the recount reads the transaction's own rows, and one commit writes them all to the
    # file (a commit this large is a checkpoint; a second one would rewrite the file's catalog again).
    with warehouse.transaction():
        for table in [*silver_tables().values(), dlq_table()]:
            written, skipped = warehouse.load_parquet_files(table, staged_files(staging_dir, table.name))
            result.inserted[table.name] = written
            result.already_present[table.name] = skipped
        if counted is not None:
            record(warehouse, result.completed(counted), input=input)
        windows = staged_windows(staging_dir)
        result.windows_recounted = recount_windows(warehouse, windows, window_seconds=window_seconds)
    return result
