"""Run the bounded pipeline on the configured runner; return the conservation ledger."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from logistics.pii import Tokenizer
from logistics.processes import owned_name, remove_orphans
from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.bounded import build_bounded
from pipeline.ledger import Ledger, committed
from pipeline.local_runner.graph import build_local
from pipeline.local_runner.processes import runner_args, worker_processes
from pipeline.local_runner.spill import input_bytes

RUN_PREFIX = "run-"  # a run's staging folder: run-<pid>-<run id> (see logistics.processes)


def new_run_id() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def staging_uri(settings: Settings, run_id: str) -> str:
    """Where a run's workers stage rows for the loader: a folder path or any Beam filesystem URI.
    Locally it is named after the run's process, so a killed run's folder (staged rows, spill
    files: tens of MB) is found and removed by the next run."""
    if settings.storage.staging_uri is None:
        return str(settings.storage.staging_dir / owned_name(RUN_PREFIX, run_id))
    return f"{settings.storage.staging}/{run_id}"  # a bucket: its lifecycle rule expires what a dead job left


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
    load: bool = True,
    reference: Settings | None = None,
    processes: int = 1,
    input_size: int | None = None,
) -> None:
    """Wire the bounded pipeline over files: the portable graph (:mod:`pipeline.bounded`) on a
    distributed runner, its local-runner arrangement (:mod:`pipeline.local_runner`) on Beam's
    local runner (``portable`` forces one or the other). ``load=False`` leaves the staged rows
    unloaded (a test of the loader). ``input_size``: the input's bytes, if already measured."""
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
            load=load,
            reference=reference,
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
        load=load,
        buckets=buckets,
        reference=reference,
        processes=processes,
        input_size=input_size,
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
    reference: Settings | None = None,
) -> Ledger:
    """Run the bounded pipeline over files matching ``input_pattern`` to the end: its last step
    loads silver + DLQ and recounts the 5-minute windows the run touched; the run's ledger.

    ``landing=True`` reads landing files of SourceRecords (micro-batches from Kafka/Pub/Sub,
    see :mod:`pipeline.sources.landing`) instead of raw JSON lines. ``write_bronze=False``
    (a replay of bronze itself) leaves the archive alone. ``pipeline_args`` are Beam options
    passed through untouched (e.g. ``--project``, ``--region``, ``--temp_location`` from the
    Dataflow Flex Template launcher); the runner comes from settings.
    """
    run_id = run_id or new_run_id()
    remove_orphans(settings.storage.staging_dir, prefix=RUN_PREFIX)
    result = submit_pipeline(
        settings=settings,
        input_pattern=input_pattern,
        run_id=run_id,
        landing=landing,
        write_bronze=write_bronze,
        pipeline_args=pipeline_args,
        portable=portable,
        buckets=buckets,
        reference=reference,
    )
    result.wait_until_finish()
    return committed_ledger(settings, run_id=run_id)


def committed_ledger(settings: Settings, *, run_id: str) -> Ledger:
    """The ledger the run's load recorded with its rows (:mod:`pipeline.ledger`)."""
    with connect(settings, read_only=True) as warehouse:
        found = committed(warehouse, run_id=run_id)
    if not found:
        raise RuntimeError(f"run {run_id} finished without recording its ledger: its load did not run")
    return found[0][2]


def submit_pipeline(
    *,
    settings: Settings,
    input_pattern: str,
    run_id: str,
    pipeline_args: Sequence[str] = (),
    **graph: Any,
) -> Any:
    """Build the bounded pipeline and start it; the runner's result, not waited for (a Flex Template
    launcher submits the job and exits). Locally, a large input gets a worker process per core
    (:mod:`pipeline.local_runner.processes`)."""
    processes = 1
    if runs_locally(settings) and not graph.get("portable"):
        # Measured once: it sizes the worker processes here and the shards' buckets in the graph.
        graph["input_size"] = size = input_bytes(input_pattern)
        processes = worker_processes(settings, input_bytes=size)
        if processes > 1:
            Tokenizer.for_settings(settings)  # a new local key is made here, not raced for by the workers
    options = PipelineOptions(
        runner_args(processes, pipeline_args), runner=settings.pipeline.runner, save_main_session=False
    )
    avoid_state_cache_trap()
    pipeline = beam.Pipeline(options=options)
    build(pipeline, input_pattern=input_pattern, settings=settings, run_id=run_id, processes=processes, **graph)
    return pipeline.run()


def avoid_state_cache_trap() -> None:
    """The local runner sizes its state cache by walking every loaded module on each state access
    (docs/local-components.md): ~300 events/s for a stateful DoFn. A size of 0 turns that off."""
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    worker_handlers.STATE_CACHE_SIZE_MB = 0


def input_files(path: Path) -> str:
    return str(path / "*.jsonl") if path.is_dir() else str(path)
