"""The bounded pipeline's graph for the local runner: batches in, a fixed number of dedupe shards."""

from __future__ import annotations

import apache_beam as beam

from logistics.settings import Settings
from pipeline.dead_letter import DEAD_LETTERS
from pipeline.events import pii_data_dir
from pipeline.local_runner.batches import CheckBatchDoFn
from pipeline.local_runner.processes import range_bytes
from pipeline.local_runner.shard import ShardTargets, WriteShardDoFn
from pipeline.local_runner.spill import buckets_for, input_bytes, shuffle_root
from pipeline.sinks.load import LoadWhenDone, received_counts
from pipeline.sinks.silver import StageRowsDoFn, dlq_row
from pipeline.sources.file import DEFAULT_RANGE_BYTES, ReadLineBatches
from pipeline.transforms.dofns import ProtectPiiDoFn

# Dedupe shards: on one machine, files per hour and the parallelism of the shard writers (at
# least the local runner's worker processes). Not a distributed runner's concern: it runs
# pipeline.bounded.
LOCAL_SHARDS = 2


def build_local(
    pipeline: beam.Pipeline,
    *,
    input_pattern: str,
    settings: Settings,
    run_id: str,
    staging: str,
    landing: bool = False,
    write_bronze: bool = True,
    load: bool = True,
    buckets: int | None = None,
    reference: Settings | None = None,
    processes: int = 1,
    input_size: int | None = None,
) -> None:
    """Batches of lines -> normalize + validate -> (one GroupByKey by dedupe shard, carrying
    spill-file names) -> per shard: dedupe -> stage (PII, bronze, enriched silver rows, alerts);
    rejects -> PII -> DLQ. Each shard is deduplicated ``buckets`` at a time (default: sized
    from the input files, so memory stays flat however big the input is). ``processes``: the
    runner's worker processes (:mod:`pipeline.local_runner.processes`), which the byte ranges
    read and the shards are sized for. ``input_size``: the input files' bytes, if the caller
    measured them already (default: measured here)."""
    shuffle = shuffle_root(staging)
    size = input_bytes(input_pattern) if input_size is None else input_size
    shards = max(LOCAL_SHARDS, processes)
    if buckets is None:
        buckets = buckets_for(size, shards=shards)
    data_dir = pii_data_dir(settings)
    window_seconds = settings.pipeline.window_size_seconds
    targets = ShardTargets(
        run_id=run_id,
        bronze_root=settings.storage.bronze if write_bronze else None,
        staging_dir=staging,
        alerts_root=settings.storage.alerts,
        alert_event_types=frozenset(settings.pipeline.alert_event_types),
        window_seconds=window_seconds,
        shuffle_dir=shuffle,
        bronze_groups=buckets,  # an hour-group holds about what a bucket holds
    )
    ranges = range_bytes(size, processes=processes, largest=DEFAULT_RANGE_BYTES)
    batches = pipeline | "Read" >> ReadLineBatches(input_pattern, records=landing, range_bytes=ranges)
    checked = batches | "Check" >> beam.ParDo(
        CheckBatchDoFn(source_system="file", shards=shards, buckets=buckets, shuffle_dir=shuffle)
    ).with_outputs(DEAD_LETTERS, main="valid")
    shards_done = (
        checked.valid
        | "GroupByShard" >> beam.GroupByKey()
        | "WriteShards"
        >> beam.ParDo(WriteShardDoFn(targets=targets, settings=settings, data_dir=data_dir, reference=reference))
    )
    dlq_done = (
        checked[DEAD_LETTERS]
        | "ProtectDeadLetters"
        >> beam.ParDo(ProtectPiiDoFn(pii=settings.pii, project_id=settings.gcp.project_id, data_dir=data_dir))
        | "DlqRow" >> beam.Map(dlq_row)
        | "StageDlq" >> beam.ParDo(StageRowsDoFn(staging_dir=staging, window_seconds=window_seconds))
    )
    if load:
        (received_counts(batches), shards_done, dlq_done) | "LoadStaged" >> LoadWhenDone(
            settings=settings, staging=staging, run_id=run_id, input=input_pattern
        )
