"""The portable bounded pipeline: files (history, backfills, replays) through :class:`ProcessEvents`.

What a distributed runner (Dataflow, Flink) runs for bounded input: files split into byte
ranges and spread over the workers, dedupe by a GroupByKey on event_id, bronze in batches per
event hour, rows staged by every bundle for the one load that ends the job. Its parallelism
is the runner's: no shard count, no local files. The load of what the workers staged runs in
the job once every writer is done (:mod:`pipeline.sinks.load`). The local runner runs the same
transforms arranged for one machine (:mod:`pipeline.local_runner`).
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.transforms.combiners import Count

from logistics.settings import Settings
from pipeline.events import ProcessEvents
from pipeline.sinks.alerts import WriteAlertsDoFn
from pipeline.sinks.bronze import WriteBronze
from pipeline.sinks.load import DUPLICATES, LoadWhenDone, received_counts
from pipeline.sinks.silver import StageRowsDoFn
from pipeline.sources.file import ReadLineBatches


def build_bounded(
    pipeline: beam.Pipeline,
    *,
    input_pattern: str,
    settings: Settings,
    run_id: str,
    staging: str,
    landing: bool = False,
    write_bronze: bool = True,
    load: bool = True,
    reference: Settings | None = None,
) -> None:
    batches = pipeline | "Read" >> ReadLineBatches(input_pattern, records=landing)
    events = (
        batches
        | "Records" >> beam.FlatMap(lambda batch: batch)
        | "Events" >> ProcessEvents(settings=settings, source_system="file", refresh_seconds=None, reference=reference)
    )
    writers_done = [
        received_counts(batches),
        events.duplicates
        | "CountDuplicates" >> Count.Globally()
        | "DuplicatesCounted" >> beam.Map(lambda n: {DUPLICATES: n}),
        (events.silver, events.dlq)
        | "Rows" >> beam.Flatten()
        | "StageRows"
        >> beam.ParDo(StageRowsDoFn(staging_dir=staging, window_seconds=settings.pipeline.window_size_seconds)),
        events.alerts | "Alerts" >> beam.ParDo(WriteAlertsDoFn(root=settings.storage.alerts, run_id=run_id)),
    ]
    if write_bronze:
        bronze_paths = events.bronze | "Bronze" >> WriteBronze(root=settings.storage.bronze, run_id=run_id)
        writers_done.append(bronze_paths | "BronzeDone" >> beam.Map(lambda _path: {}))
    if load:
        tuple(writers_done) | "LoadStaged" >> LoadWhenDone(
            settings=settings, staging=staging, run_id=run_id, input=input_pattern
        )
