"""The bounded pipeline's last step: once every writer is done, load what they staged, in the job.

Every writer of a bounded graph (staged rows, bronze, alert files, the local runner's shards)
emits a token when it is done, carrying what it counted for the run's ledger (duplicates,
alerts; the reader adds what it received). The tokens are summed into one element, which exists
only after all of them, and one DoFn then loads the staged rows
(:func:`~pipeline.sinks.silver.load_staged`: the one writer of the warehouse, which for DuckDB
must be one process) together with the run's ledger (:mod:`pipeline.ledger`), publishes the
run's outputs (never ahead of the table), and removes the staging folder. On Dataflow this runs
on a worker, so a batch template needs nothing after the job; the counts also reach the job's
metrics (the ``ledger`` namespace), which show a run's progress while it runs.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterable, Mapping

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import PCollection

from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.ledger import Ledger
from pipeline.sinks.silver import load_staged
from pipeline.sinks.topics import publish_run_outputs

RECEIVED, DUPLICATES, ALERTS = "received", "duplicates", "alerts"  # what the writers' tokens count


class _SumCounts(beam.CombineFn):
    """The writers' counts, summed: ``{}`` when nothing was written (still one element)."""

    def create_accumulator(self) -> Counter[str]:
        return Counter()

    def add_input(self, total: Counter[str], counted: Mapping[str, int]) -> Counter[str]:
        total.update(counted)
        return total

    def merge_accumulators(self, totals: Iterable[Counter[str]]) -> Counter[str]:
        merged: Counter[str] = Counter()
        for total in totals:
            merged.update(total)
        return merged

    def extract_output(self, total: Counter[str]) -> dict[str, int]:
        return dict(total)


class _LoadStagedDoFn(beam.DoFn):
    def __init__(self, *, settings: Settings, staging: str, run_id: str, input: str) -> None:
        self._settings, self._staging, self._run_id, self._input = settings, staging, run_id, input

    def process(self, counted: Mapping[str, int]) -> None:
        settings = self._settings
        run = Ledger(
            run_id=self._run_id,
            received=counted.get(RECEIVED, 0),
            duplicates=counted.get(DUPLICATES, 0),
            alerts=counted.get(ALERTS, 0),
        )
        with connect(settings) as warehouse:
            load_staged(
                warehouse,
                self._staging,
                window_seconds=settings.pipeline.window_size_seconds,
                counted=run,
                input=self._input,
            )
        publish_run_outputs(settings, run_id=self._run_id, staging=self._staging)
        remove(self._staging)  # loaded: the warehouse is now the record (spill files go with it)


class LoadWhenDone(beam.PTransform):
    """``writers_done`` (every writer's tokens of counts) -> the load, run once after the last of them."""

    def __init__(self, *, settings: Settings, staging: str, run_id: str, input: str) -> None:
        super().__init__()
        self._settings, self._staging, self._run_id, self._input = settings, staging, run_id, input

    def expand(self, writers_done: Iterable[PCollection]) -> PCollection:
        return (
            tuple(writers_done)
            | "AllWriters" >> beam.Flatten()
            | "Counted" >> beam.CombineGlobally(_SumCounts())  # one element, even when nothing was written
            | "Load"
            >> beam.ParDo(
                _LoadStagedDoFn(settings=self._settings, staging=self._staging, run_id=self._run_id, input=self._input)
            )
        )


def received_counts(batches: PCollection) -> PCollection:
    """A token of counts per batch of records read: how many the run received."""
    return batches | "CountReceived" >> beam.Map(lambda batch: {RECEIVED: len(batch)})


def remove(uri: str) -> None:
    if FileSystems.get_scheme(uri) is None:  # a local folder
        shutil.rmtree(uri, ignore_errors=True)
        return
    matched = FileSystems.match([f"{uri.rstrip('/')}/**"])[0].metadata_list
    if matched:
        FileSystems.delete([m.path for m in matched])
