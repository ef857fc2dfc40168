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

from logistics.settings import Settings
from pipeline.events import ProcessEvents
from pipeline.sinks.alerts import WriteAlertsDoFn
from pipeline.sinks.bronze import WriteBronze
from pipeline.sinks.load import LoadWhenDone
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
    records = (
        pipeline
        | "Read" >> ReadLineBatches(input_pattern, records=landing)
        | "Records" >> beam.FlatMap(lambda batch: batch)
    )
    events = records | "Events" >> ProcessEvents(
        settings=settings, source_system="file", refresh_seconds=None, reference=reference
    )
    if write_bronze:
        events.bronze | "Bronze" >> WriteBronze(root=settings.storage.bronze, run_id=run_id)
    rows_done = (
        (events.silver, events.dlq)
        | "Rows" >> beam.Flatten()
        | "StageRows"
        >> beam.ParDo(StageRowsDoFn(staging_dir=staging, window_seconds=settings.pipeline.window_size_seconds))
    )
    alerts_done = events.alerts | "Alerts" >> beam.ParDo(WriteAlertsDoFn(root=settings.storage.alerts, run_id=run_id))
    if load:
        (rows_done, alerts_done) | "LoadStaged" >> LoadWhenDone(settings=settings, staging=staging, run_id=run_id)
