"""The bounded pipeline's last step: once every writer is done, load what they staged, in the job.

Every writer of a bounded graph (staged rows, alert files, the local runner's shards) emits a
token when it is done; the tokens are counted into one element, which exists only after all of
them, and one DoFn then loads the staged rows (:func:`~pipeline.sinks.silver.load_staged`: the
one writer of the warehouse, which for DuckDB must be one process), publishes the run's outputs
(never ahead of the table), and removes the staging folder. On Dataflow this runs on a worker,
so a batch template needs nothing after the job; its counts reach the job's metrics, from which
the conservation ledger is read.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import Metrics
from apache_beam.pvalue import PCollection
from apache_beam.transforms.combiners import Count

from logistics.settings import Settings
from logistics.warehouse import connect, silver_tables
from pipeline.sinks.silver import DLQ, load_staged
from pipeline.sinks.topics import publish_run_outputs

SILVER_INSERTED = "silver_inserted."  # + table name: a counter per silver table
_SILVER = frozenset(t.name for t in silver_tables().values())


class _LoadStagedDoFn(beam.DoFn):
    def __init__(self, *, settings: Settings, staging: str, run_id: str) -> None:
        self._settings, self._staging, self._run_id = settings, staging, run_id

    def process(self, _writers_done: int) -> None:
        settings = self._settings
        with connect(settings) as warehouse:
            loaded = load_staged(warehouse, self._staging, window_seconds=settings.pipeline.window_size_seconds)
        publish_run_outputs(settings, run_id=self._run_id, staging=self._staging)
        for table, count in loaded.inserted.items():
            name = f"{SILVER_INSERTED}{table}" if table in _SILVER else ("dlq_inserted" if table == DLQ else None)
            if name:
                Metrics.counter("ledger", name).inc(count)
        Metrics.counter("ledger", "silver_already_present").inc(
            sum(n for t, n in loaded.already_present.items() if t in _SILVER)
        )
        Metrics.counter("ledger", "dlq_already_present").inc(loaded.already_present.get(DLQ, 0))
        remove(self._staging)  # loaded: the warehouse is now the record (spill files go with it)


class LoadWhenDone(beam.PTransform):
    """``writers_done`` (tokens of every writer) -> the load, run once after the last of them."""

    def __init__(self, *, settings: Settings, staging: str, run_id: str) -> None:
        super().__init__()
        self._settings, self._staging, self._run_id = settings, staging, run_id

    def expand(self, writers_done: Iterable[PCollection]) -> PCollection:
        return (
            tuple(writers_done)
            | "AllWriters" >> beam.Flatten()
            | "Done" >> Count.Globally()  # one element, even when nothing was written
            | "Load" >> beam.ParDo(_LoadStagedDoFn(settings=self._settings, staging=self._staging, run_id=self._run_id))
        )


def remove(uri: str) -> None:
    if FileSystems.get_scheme(uri) is None:  # a local folder
        shutil.rmtree(uri, ignore_errors=True)
        return
    matched = FileSystems.match([f"{uri.rstrip('/')}/**"])[0].metadata_list
    if matched:
        FileSystems.delete([m.path for m in matched])
