"""Build and run the pipeline on the configured runner; return the conservation ledger."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from contracts.generated.catalog import FAMILIES
from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.dead_letter import DEAD_LETTERS
from pipeline.sinks.shard import ShardTargets, WriteShardDoFn
from pipeline.sinks.silver import DLQ, LoadResult, StageRows, count_row, dlq_row, load_staged
from pipeline.sinks.spill import buckets_for, input_bytes, shuffle_root
from pipeline.sinks.topics import publish_run_outputs
from pipeline.sources.file import ReadLineBatches
from pipeline.transforms.batch import CheckBatchDoFn
from pipeline.transforms.enrich import dimension_side_input
from pipeline.transforms.pii import ProtectPiiDoFn
from pipeline.windows.event_counts import PartialCount, WindowKey, add_partials, final_count_row


@dataclass
class Ledger:
    """Every received record ends in exactly one place: silver, the DLQ, or the duplicate count.

    Alerts are copies of silver events (not a destination of their own) and are reported
    beside the balance, as are events too late for the 5-minute counts (they are in silver).
    """

    run_id: str
    received: int = 0
    duplicates: int = 0
    silver_inserted: dict[str, int] = field(default_factory=dict)
    silver_already_present: int = 0  # replays: unique in this run, already in silver from an earlier one
    dlq: int = 0
    dlq_already_present: int = 0
    alerts: int = 0
    late_for_counts: int = 0

    @property
    def silver_total(self) -> int:
        return sum(self.silver_inserted.values())

    @property
    def accounted(self) -> int:
        return self.silver_total + self.silver_already_present + self.dlq + self.dlq_already_present + self.duplicates

    @property
    def balanced(self) -> bool:
        return self.accounted == self.received


DEFAULT_SHARDS = 2  # dedupe shards of the bounded path: parallelism on a distributed runner; files per hour locally


def build(
    pipeline: beam.Pipeline,
    *,
    input_pattern: str,
    settings: Settings,
    run_id: str,
    landing: bool = False,
    shards: int = DEFAULT_SHARDS,
    buckets: int | None = None,
) -> None:
    """Wire the bounded pipeline over files: batches of lines -> normalize + validate ->
    (one GroupByKey by dedupe shard) -> per shard: dedupe -> PII -> bronze + enriched silver
    rows + window counts + alerts; rejects -> PII -> DLQ. Nothing downstream of the PII
    step ever sees a clear personal value.

    The GroupByKey carries spill-file names, not events (:mod:`pipeline.sinks.spill`), and each
    shard is deduplicated ``buckets`` at a time (default: sized from the input files so that
    memory stays flat however big the input is).

    Beam sees batches, not events (see :mod:`pipeline.transforms.batch`): the per-event work
    is the same pure functions the per-element transforms (``DedupeByEventId``,
    ``EventCounts5m``, used on unbounded input) apply, so both paths decide alike.
    """
    staging = staging_uri(settings, run_id)
    shuffle = shuffle_root(staging)
    if buckets is None:
        buckets = buckets_for(input_bytes(input_pattern), shards=shards)
    data_dir = settings.storage.resolved_data_dir()
    targets = ShardTargets(
        run_id=run_id,
        bronze_root=settings.storage.bronze,
        staging_dir=staging,
        alerts_root=settings.storage.alerts,
        alert_event_types=frozenset(settings.pipeline.alert_event_types),
        window_seconds=settings.pipeline.window_size_seconds,
        # Micro-batches of a live stream judge lateness by ingest time, as the streaming windows do;
        # a file (an archive, a replay, a backfill) is batch input, where Beam holds every event
        # on time: judged by wall-clock ingest time, a day's file from last week would count nothing.
        allowed_lateness=dt.timedelta(hours=settings.pipeline.allowed_lateness_hours) if landing else None,
        shuffle_dir=shuffle,
        bronze_groups=buckets,  # an hour-group holds about what a bucket holds
    )
    window_seconds = targets.window_seconds

    checked = (
        pipeline
        | "Read" >> ReadLineBatches(input_pattern, records=landing)
        | "Check"
        >> beam.ParDo(
            CheckBatchDoFn(source_system="file", shards=shards, buckets=buckets, shuffle_dir=shuffle)
        ).with_outputs(DEAD_LETTERS, main="valid")
    )
    dimensions = dimension_side_input(pipeline, settings=settings)
    partial_counts = (
        checked.valid
        | "GroupByShard" >> beam.GroupByKey()
        | "WriteShards"
        >> beam.ParDo(
            WriteShardDoFn(targets=targets, pii=settings.pii, project_id=settings.gcp.project_id, data_dir=data_dir),
            snapshots=dimensions,
        )
    )
    (
        (
            checked[DEAD_LETTERS]
            | "ProtectDeadLetters"
            >> beam.ParDo(ProtectPiiDoFn(pii=settings.pii, project_id=settings.gcp.project_id, data_dir=data_dir))
            | "DlqRow" >> beam.Map(dlq_row),
            partial_counts
            | "SumCounts" >> beam.CombinePerKey(add_partials)
            | "CountRow" >> beam.Map(lambda kv: _count_row(*kv, window_seconds=window_seconds, run_id=run_id)),
        )
        | "AllRows" >> beam.Flatten()
        | "Stage" >> StageRows(staging_dir=staging)
    )


def _count_row(key: WindowKey, total: PartialCount, *, window_seconds: int, run_id: str) -> tuple[str, dict[str, Any]]:
    events, digest = total
    return count_row(final_count_row(key, events, window_seconds=window_seconds), run_id=run_id, content=digest)


def staging_uri(settings: Settings, run_id: str) -> str:
    """Where a run's workers stage rows for the loader: a folder path or any Beam filesystem URI."""
    return f"{settings.storage.staging}/{run_id}"


def run_pipeline(
    *,
    settings: Settings,
    input_pattern: str,
    run_id: str | None = None,
    landing: bool = False,
    pipeline_args: Sequence[str] = (),
    buckets: int | None = None,
) -> Ledger:
    """Run the bounded pipeline over files matching ``input_pattern``, then load silver + DLQ.

    ``landing=True`` reads landing files of SourceRecords (micro-batches from Kafka/Pub/Sub,
    see :mod:`pipeline.sources.landing`) instead of raw JSON lines. ``pipeline_args`` are Beam
    options passed through untouched (e.g. ``--project``, ``--region``, ``--temp_location`` from
    the Dataflow Flex Template launcher); the runner comes from settings. ``buckets`` overrides
    the dedupe buckets per shard (default: sized from the input, see :func:`build`).
    """
    run_id = run_id or f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    options = PipelineOptions(list(pipeline_args), runner=settings.pipeline.runner, save_main_session=False)
    _avoid_state_cache_trap()
    pipeline = beam.Pipeline(options=options)
    build(pipeline, input_pattern=input_pattern, settings=settings, run_id=run_id, landing=landing, buckets=buckets)
    result = pipeline.run()
    result.wait_until_finish()
    counters = _counters(result)

    staging = staging_uri(settings, run_id)
    with connect(settings) as warehouse:
        loaded: LoadResult = load_staged(warehouse, staging)
    publish_run_outputs(settings, run_id=run_id, staging=staging)  # after the load: never ahead of the table
    _remove(staging)  # loaded: the warehouse is now the record (this also removes the spill files)
    silver_names = {family.silver_table for family in FAMILIES.values()}
    return Ledger(
        run_id=run_id,
        received=counters.get("received", 0),
        duplicates=counters.get("duplicates", 0),
        silver_inserted={t: n for t, n in loaded.inserted.items() if t in silver_names},
        silver_already_present=sum(n for t, n in loaded.already_present.items() if t in silver_names),
        dlq=loaded.inserted.get(DLQ, 0),
        dlq_already_present=loaded.already_present.get(DLQ, 0),
        alerts=counters.get("alerts", 0),
        late_for_counts=counters.get("late_beyond_allowed", 0),
    )


def _counters(result: Any) -> dict[str, int]:
    query = result.metrics().query(MetricsFilter().with_namespace("ledger"))
    return {c.key.metric.name: int(c.committed or c.attempted or 0) for c in query["counters"]}


def _remove(uri: str) -> None:
    if FileSystems.get_scheme(uri) is None:  # a local folder
        shutil.rmtree(uri, ignore_errors=True)
        return
    matched = FileSystems.match([f"{uri.rstrip('/')}/**"])[0].metadata_list
    if matched:
        FileSystems.delete([m.path for m in matched])


def _avoid_state_cache_trap() -> None:
    """RUNBOOK: the local runner sizes its state cache by walking every module on each access."""
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    worker_handlers.STATE_CACHE_SIZE_MB = 0


def input_files(path: Path) -> str:
    return str(path / "*.jsonl") if path.is_dir() else str(path)
