"""Run the bounded pipeline on the configured runner, load what it staged; return the conservation ledger."""

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
from pipeline.bounded import build_bounded
from pipeline.local_runner.graph import build_local
from pipeline.sinks.silver import DLQ, LoadResult, load_staged
from pipeline.sinks.topics import publish_run_outputs


@dataclass
class Ledger:
    """Every received record ends in exactly one place: silver, the DLQ, or the duplicate count.

    Alerts are copies of silver events (not a destination of their own) and are reported
    beside the balance.
    """

    run_id: str
    received: int = 0
    duplicates: int = 0
    silver_inserted: dict[str, int] = field(default_factory=dict)
    silver_already_present: int = 0  # replays: unique in this run, already in silver from an earlier one
    dlq: int = 0
    dlq_already_present: int = 0
    alerts: int = 0

    @property
    def silver_total(self) -> int:
        return sum(self.silver_inserted.values())

    @property
    def accounted(self) -> int:
        return self.silver_total + self.silver_already_present + self.dlq + self.dlq_already_present + self.duplicates

    @property
    def balanced(self) -> bool:
        return self.accounted == self.received


def new_run_id() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def staging_uri(settings: Settings, run_id: str) -> str:
    """Where a run's workers stage rows for the loader: a folder path or any Beam filesystem URI."""
    return f"{settings.storage.staging}/{run_id}"


def runs_locally(settings: Settings) -> bool:
    """Beam's local runner: the bounded pipeline takes its one-machine arrangement (pipeline.local_runner)."""
    return settings.pipeline.runner in {"DirectRunner", "FnApiRunner", "BundleBasedDirectRunner"}


def build(
    pipeline: beam.Pipeline,
    *,
    input_pattern: str,
    settings: Settings,
    run_id: str,
    landing: bool = False,
    write_bronze: bool = True,
    portable: bool | None = None,
    buckets: int | None = None,
) -> None:
    """Wire the bounded pipeline over files: the portable graph (:mod:`pipeline.bounded`) on a
    distributed runner, its local-runner arrangement (:mod:`pipeline.local_runner`) on Beam's
    local runner (``portable`` forces one or the other)."""
    staging = staging_uri(settings, run_id)
    if portable if portable is not None else not runs_locally(settings):
        build_bounded(
            pipeline,
            input_pattern=input_pattern,
            settings=settings,
            run_id=run_id,
            staging=staging,
            landing=landing,
            write_bronze=write_bronze,
        )
        return
    build_local(
        pipeline,
        input_pattern=input_pattern,
        settings=settings,
        run_id=run_id,
        staging=staging,
        landing=landing,
        write_bronze=write_bronze,
        buckets=buckets,
    )


def run_pipeline(
    *,
    settings: Settings,
    input_pattern: str,
    run_id: str | None = None,
    landing: bool = False,
    write_bronze: bool = True,
    pipeline_args: Sequence[str] = (),
    portable: bool | None = None,
    buckets: int | None = None,
) -> Ledger:
    """Run the bounded pipeline over files matching ``input_pattern``, then load silver + DLQ and
    recount the 5-minute windows it touched.

    ``landing=True`` reads landing files of SourceRecords (micro-batches from Kafka/Pub/Sub,
    see :mod:`pipeline.sources.landing`) instead of raw JSON lines. ``write_bronze=False``
    (a replay of bronze itself) leaves the archive alone. ``pipeline_args`` are Beam options
    passed through untouched (e.g. ``--project``, ``--region``, ``--temp_location`` from the
    Dataflow Flex Template launcher); the runner comes from settings.
    """
    run_id = run_id or new_run_id()
    options = PipelineOptions(list(pipeline_args), runner=settings.pipeline.runner, save_main_session=False)
    avoid_state_cache_trap()
    pipeline = beam.Pipeline(options=options)
    build(
        pipeline,
        input_pattern=input_pattern,
        settings=settings,
        run_id=run_id,
        landing=landing,
        write_bronze=write_bronze,
        portable=portable,
        buckets=buckets,
    )
    result = pipeline.run()
    result.wait_until_finish()
    counters = _counters(result)

    staging = staging_uri(settings, run_id)
    with connect(settings) as warehouse:
        loaded: LoadResult = load_staged(warehouse, staging, window_seconds=settings.pipeline.window_size_seconds)
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


def avoid_state_cache_trap() -> None:
    """The local runner sizes its state cache by walking every loaded module on each state access
    (docs/local-components.md): ~300 events/s for a stateful DoFn. A size of 0 turns that off."""
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    worker_handlers.STATE_CACHE_SIZE_MB = 0


def input_files(path: Path) -> str:
    return str(path / "*.jsonl") if path.is_dir() else str(path)
