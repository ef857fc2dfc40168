"""``logistics run-pipeline``: input files -> bronze + silver + DLQ, then print the ledger."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table
from rich.text import Text

from logistics.cli._console import console, err_console
from logistics.errors import LogisticsError

if TYPE_CHECKING:
    from logistics.settings import Settings
    from pipeline.sources.base import Backoff


def ledger_table(ledger: object) -> Table:
    from pipeline.ledger import Ledger

    assert isinstance(ledger, Ledger)
    table = Table(title=f"Conservation ledger (run {ledger.run_id})")
    table.add_column("where")
    table.add_column("records", justify="right")
    table.add_row("received", str(ledger.received))
    for name, count in ledger.silver_inserted.items():
        table.add_row(f"silver: clean.{name}", str(count))
    table.add_row("silver: already present (replay)", str(ledger.silver_already_present))
    table.add_row("DLQ: clean.dlq_events", str(ledger.dlq))
    table.add_row("DLQ: already present (replay)", str(ledger.dlq_already_present))
    table.add_row("duplicates dropped", str(ledger.duplicates))
    verdict = "[green]balanced[/]" if ledger.balanced else "[red]NOT balanced[/]"
    table.add_row("accounted for", f"{ledger.accounted} {verdict}")
    return table


def run_pipeline(
    input: Annotated[
        Path | None,
        typer.Option(help="JSONL file or folder (default: <data_dir>/input); given, it wins over pipeline.source."),
    ] = None,
    source: Annotated[
        Literal["file", "kafka", "pubsub"] | None,
        typer.Option(help="Where events come from (default: file with --input, else pipeline.source in config)."),
    ] = None,
    max_batches: Annotated[
        int | None, typer.Option(min=1, help="kafka/pubsub: stop after this many micro-batches.")
    ] = None,
    idle_timeout: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="kafka/pubsub: stop once nothing arrived for this many seconds and the broker says the "
            "topics are drained (default: run on).",
        ),
    ] = None,
    streaming: Annotated[
        bool,
        typer.Option(
            "--streaming",
            help="kafka/pubsub: run the unbounded pipeline on the local streaming runner until Ctrl-C "
            "(default: the micro-batch drain, which commits each batch after its load).",
        ),
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, help="kafka/pubsub micro-batch drain: most records per micro-batch.")
    ] = 10_000,
    give_up_after: Annotated[
        float,
        typer.Option(
            min=0, help="kafka/pubsub micro-batch drain: seconds of retrying an unreachable broker before giving up."
        ),
    ] = 300.0,
) -> None:
    """Run the bounded pipeline over input files; or, from Kafka / Pub/Sub, the unbounded pipeline
    (``--streaming``) or the micro-batch drain (a bounded run per batch, committed after its load)."""
    from logistics.cli._preflight import pipeline_problems, require
    from logistics.settings import get_settings
    from pipeline.run import input_files, new_run_id
    from pipeline.run import run_pipeline as run

    settings = get_settings()
    if input is not None and source not in (None, "file"):
        raise typer.BadParameter(f"--input reads files; --source {source} drains a broker: give one of them")
    chosen = "file" if input is not None else source or settings.pipeline.source
    if streaming and chosen == "file":
        raise typer.BadParameter("--streaming reads a broker: add --source pubsub or --source kafka")
    require(pipeline_problems(settings, source=chosen))
    if streaming and chosen != "file":
        from logistics.cli._streaming import run_streaming

        if not run_streaming(settings=settings, source=chosen, idle_timeout=idle_timeout):
            raise typer.Exit(1)
        return
    if chosen != "file":
        from pipeline.sources.base import Backoff

        _drain(
            chosen,
            max_batches=max_batches,
            idle_timeout=idle_timeout,
            batch_size=batch_size,
            backoff=Backoff(give_up_after_s=give_up_after),
        )
        return
    path = input or settings.storage.resolved_data_dir() / "input"
    if not path.exists() or (path.is_dir() and not any(path.glob("*.jsonl"))):
        raise LogisticsError(f"no input at {path}: write some with `logistics generate`, or pass --input FILE")
    run_id = new_run_id()
    try:
        with _exit_on_ctrl_c(run_id), console.status(f"running the pipeline over {path} ..."):
            ledger = run(settings=settings, input_pattern=input_files(path), run_id=run_id)
    except Exception:
        _report_stopped_run(settings, run_id=run_id)
        raise
    console.print(ledger_table(ledger))
    console.print(f"bronze: {settings.storage.bronze}   warehouse: {settings.storage.duckdb_path}")
    if not ledger.balanced:
        raise typer.Exit(1)


@contextmanager
def _exit_on_ctrl_c(run_id: str) -> Iterator[None]:
    """Ctrl-C ends a bounded run at once, with a sentence instead of the runner's traceback: its
    rows and its ledger commit together or not at all, and the next run removes its staging."""

    def stop(_signal: int, _frame: object) -> None:
        err_console.print(
            f"interrupted: run {run_id} stopped. A run commits its rows and its ledger together or not at "
            f"all: `logistics ledger --run {run_id}` says which; rerun it to finish (what it committed is "
            "found already present)"
        )
        os._exit(130)

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _report_stopped_run(settings: Settings, *, run_id: str) -> None:
    """A run that stopped (an error, Ctrl-C) committed all of its rows or none: say which, with the
    ledger it committed, if any (its load commits the ledger with the rows)."""
    from logistics.warehouse import connect
    from pipeline.ledger import committed

    try:
        with connect(settings, read_only=True) as warehouse:
            found = committed(warehouse, run_id=run_id)
    except Exception:
        found = []
    if found:
        err_console.print(f"run {run_id} stopped after its load committed:")
        err_console.print(ledger_table(found[0][2]))
    else:
        err_console.print(
            f"run {run_id} stopped before its load committed: nothing of it is in silver or the DLQ "
            "(`logistics ledger` lists the committed runs); rerun it once the cause is fixed"
        )


def _drain(
    source: Literal["kafka", "pubsub"],
    *,
    max_batches: int | None,
    idle_timeout: float | None,
    batch_size: int,
    backoff: Backoff,
) -> None:
    """Micro-batches from a broker until ``max_batches`` / ``idle_timeout`` / Ctrl-C, then the ledger,
    however the drain ends (a broker that stayed away, Ctrl-C, an error)."""
    from logistics.settings import get_settings
    from pipeline.sources.brokers import open_batch_source
    from pipeline.streaming import StreamLedger, drain

    settings = get_settings()
    batch_source, where = open_batch_source(source, settings=settings)
    console.print(
        f"micro-batch drain of {where}: a bounded run per batch, committed after its load "
        "(Ctrl-C stops after the current batch is committed or redelivered)"
    )
    stream = StreamLedger()
    try:
        drain(
            batch_source,
            settings=settings,
            max_records=batch_size,
            # One poll waits idle_timeout for its first record; an empty poll then ends the drain if
            # the broker confirms nothing is left.
            timeout_s=idle_timeout if idle_timeout is not None else 5.0,
            max_batches=max_batches,
            idle_batches_to_stop=1 if idle_timeout is not None else None,
            backoff=backoff,
            on_status=lambda line: err_console.print(Text(line, style="yellow"), soft_wrap=True),
            stream=stream,
        )
    except KeyboardInterrupt:
        console.print("interrupted: anything not committed will be redelivered")
    finally:
        batch_source.close()
        console.print(ledger_table(stream.total()))
        for name, count in sorted(stream.received_by_source.items()):
            console.print(f"received from {name}: {count}")
        if stream.uncommitted is not None:
            console.print(f"not committed: {stream.uncommitted.describe()}", soft_wrap=True)
        console.print(f"bronze: {settings.storage.bronze}   warehouse: {settings.storage.duckdb_path}")
    if not stream.balanced or stream.uncommitted is not None:
        raise typer.Exit(1)
