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
from apache_beam.metrics.metric import Metrics, MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from contracts.generated.catalog import FAMILIES
from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.dead_letter import DEAD_LETTERS
from pipeline.sinks.bronze import WriteBronze
from pipeline.sinks.silver import DLQ, LoadResult, StageRows, count_row, dlq_row, load_staged, silver_row
from pipeline.sources.file import ReadJsonLines
from pipeline.transforms.dedupe import DedupeByEventId
from pipeline.transforms.enrich import EnrichRows, dimension_side_input
from pipeline.transforms.normalize import NormalizeDoFn
from pipeline.transforms.pii import ProtectPiiDoFn
from pipeline.transforms.route import RouteAlerts
from pipeline.transforms.validate import ValidateDoFn
from pipeline.windows.event_counts import EventCounts5m


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


def build(
    pipeline: beam.Pipeline, *, input_pattern: str, settings: Settings, run_id: str, landing: bool = False
) -> None:
    """Wire source -> normalize -> validate -> dedupe -> PII -> enrich -> bronze + silver (+ counts, alerts);
    rejects -> PII -> DLQ. Nothing downstream of the PII stage ever sees a clear personal value."""
    staging = str(settings.storage.staging_dir / run_id)
    data_dir = settings.storage.resolved_data_dir()

    def protect_pii() -> ProtectPiiDoFn:
        return ProtectPiiDoFn(pii=settings.pii, project_id=settings.gcp.project_id, data_dir=data_dir)

    normalized = (
        pipeline
        | "Read" >> ReadJsonLines(input_pattern, records=landing)
        | "Normalize" >> beam.ParDo(NormalizeDoFn(source_system="file")).with_outputs(DEAD_LETTERS, main="envelopes")
    )
    validated = normalized.envelopes | "Validate" >> beam.ParDo(ValidateDoFn()).with_outputs(DEAD_LETTERS, main="valid")
    unique = (
        (validated.valid | "Dedupe" >> DedupeByEventId()).unique  # extra copies: the "duplicates" metric
        | "ProtectPii" >> beam.ParDo(protect_pii())
    )
    dimensions = dimension_side_input(pipeline, settings=settings)

    unique | "Bronze" >> WriteBronze(root=settings.storage.bronze, run_id=run_id)
    (
        unique
        | "Alerts"
        >> RouteAlerts(
            event_types=settings.pipeline.alert_event_types,
            root=str(data_dir / "alerts"),
            run_id=run_id,
        )
        | "CountAlerts" >> beam.Map(lambda a: _count("alerts", a))
    )
    counts = unique | "EventCounts5m" >> EventCounts5m(
        window_seconds=settings.pipeline.window_size_seconds,
        allowed_lateness_hours=settings.pipeline.allowed_lateness_hours,
    )
    dead = (
        (normalized[DEAD_LETTERS], validated[DEAD_LETTERS])
        | "AllDeadLetters" >> beam.Flatten()
        | "ProtectDeadLetters" >> beam.ParDo(protect_pii())
    )
    (
        (
            unique | "SilverRow" >> beam.Map(silver_row) | "Enrich" >> EnrichRows(dims=dimensions),
            dead | "DlqRow" >> beam.Map(dlq_row),
            counts["rows"] | "CountRow" >> beam.Map(count_row, run_id=run_id),
        )
        | "AllRows" >> beam.Flatten()
        | "Stage" >> StageRows(staging_dir=staging)
    )


def _count(name: str, element: Any) -> Any:
    Metrics.counter("ledger", name).inc()
    return element


def run_pipeline(
    *,
    settings: Settings,
    input_pattern: str,
    run_id: str | None = None,
    landing: bool = False,
    pipeline_args: Sequence[str] = (),
) -> Ledger:
    """Run the bounded pipeline over files matching ``input_pattern``, then load silver + DLQ.

    ``landing=True`` reads landing files of SourceRecords (micro-batches from Kafka/Pub/Sub,
    see :mod:`pipeline.sources.landing`) instead of raw JSON lines. ``pipeline_args`` are Beam
    options passed through untouched (e.g. ``--project``, ``--region``, ``--temp_location`` from
    the Dataflow Flex Template launcher); the runner comes from settings.
    """
    run_id = run_id or f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    options = PipelineOptions(list(pipeline_args), runner=settings.pipeline.runner, save_main_session=False)
    _avoid_state_cache_trap()
    pipeline = beam.Pipeline(options=options)
    build(pipeline, input_pattern=input_pattern, settings=settings, run_id=run_id, landing=landing)
    result = pipeline.run()
    result.wait_until_finish()
    counters = _counters(result)

    staging = settings.storage.staging_dir / run_id
    with connect(settings) as warehouse:
        loaded: LoadResult = load_staged(warehouse, staging)
    shutil.rmtree(staging, ignore_errors=True)  # loaded: the warehouse is now the record
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


def _avoid_state_cache_trap() -> None:
    """RUNBOOK: the local runner sizes its state cache by walking every module on each access."""
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    worker_handlers.STATE_CACHE_SIZE_MB = 0


def input_files(path: Path) -> str:
    return str(path / "*.jsonl") if path.is_dir() else str(path)
