"""``logistics demo``: the tour of every layer on the embedded defaults (``make demo``).

generate -> pipeline (file source, or ``--source kafka|pubsub`` through a real local broker)
-> bronze, silver, DLQ -> gold by the real ``marts_daily`` DAG behind the quality gates
-> the API on uvicorn, asked three questions over HTTP. Interactive runs keep the API up
until Ctrl-C; every process the demo started is stopped on the way out.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from logistics.cli._console import console

if TYPE_CHECKING:
    from logistics.demo import GateOutcome
    from logistics.settings import Settings
    from pipeline.sources.simulator import SimulationConfig


def demo(
    source: Annotated[
        Literal["file", "kafka", "pubsub"],
        typer.Option(
            envvar="DEMO_SOURCE", help="file, kafka (a local Tansu broker) or pubsub (the official emulator)."
        ),
    ] = "file",
    shipments: Annotated[int, typer.Option(min=1, help="Shipments booked in the simulated day.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same day.")] = 7,
    serve: Annotated[
        bool | None,
        typer.Option(help="Keep the API up until Ctrl-C (default: when run from a terminal)."),
    ] = None,
) -> None:
    """Generate a day of a carrier network and run it through every layer, then serve the API."""
    from logistics import demo as tour
    from logistics.cli.run_pipeline import ledger_table
    from logistics.local import api_server
    from logistics.settings import get_settings
    from pipeline.sources.simulator import SimulationConfig, simulate, write_jsonl
    from quality.gate import results_dir_for

    started = dt.datetime.now(dt.UTC)
    settings = get_settings()
    data_dir = settings.storage.resolved_data_dir()

    console.rule("1. simulate a day of the network")
    config = SimulationConfig(shipments=shipments, days=1, seed=seed)
    input_path = data_dir / "input" / "events.jsonl"
    truth = write_jsonl(simulate(config), input_path, truth_path=tour.truth_path(settings))
    planted = ", ".join(f"{count:,} {kind.replace('_', ' ')}" for kind, count in truth.faults.items())
    console.print(
        f"{truth.records:,} records ({truth.shipments:,} shipments, {config.hubs} hubs, "
        f"{config.hubs * config.depots_per_hub} depots, {len(config.carriers)} carriers) -> {input_path}\n"
        f"planted faults: {planted}\nground truth: {tour.truth_path(settings)}"
    )

    via = {"file": "the file source", "kafka": "Kafka (a local Tansu broker)", "pubsub": "the Pub/Sub emulator"}
    console.rule(f"2. pipeline from {via[source]}: normalize -> validate -> dedupe -> PII -> enrich -> route")
    with console.status("running the Beam pipeline on the local runner ..."):
        ledger = tour.ingest(settings, source=source, input_path=input_path)
    console.print(ledger_table(ledger))

    console.rule("2b. live: the unbounded pipeline on the Pub/Sub emulator (the local streaming runner)")
    live_ok = _stream_live(settings, backfilled=config, live_shipments=max(10, shipments // 50))

    console.rule("3. gold: the marts_daily DAG under Airflow (stage -> quality gate -> publish)")
    days = tour.gold_days(truth)
    with console.status(f"airflow: marts_daily for {len(days)} day(s) (first start-up takes a while) ..."):
        runs = tour.build_gold_with_airflow(settings, days=days)
    for run in runs:
        colour = "green" if run.state == "success" else "red"
        failed = [task for task, state in run.task_states.items() if state != "success"]
        console.print(
            f"marts_daily {run.day}: [{colour}]{run.state}[/]" + (f" (not run/failed: {failed})" if failed else "")
        )
    console.print(_gates_table(tour.gate_outcomes(settings, since=started), root=results_dir_for(settings)))
    layers = Table(title="Rows per layer")
    layers.add_column("table")
    layers.add_column("rows", justify="right")
    for table, rows in tour.layer_counts(settings).items():
        layers.add_row(table, f"{rows:,}")
    console.print(layers)

    console.rule("4. the API: GraphQL over HTTP")
    with api_server(log_dir=tour.demo_dir(settings), port=_port()) as api:
        for title, query in tour.EXAMPLE_QUERIES.items():
            console.print(f"[bold]{title}[/]\n{query}")
            answer = tour.ask(api, query)
            console.print_json(json.dumps({k: v for k, v in answer.items() if k in ("data", "errors")}, default=str))
        console.rule("where to look")
        console.print(f"GraphiQL:          {api.graphql}   (header X-API-Key: {tour.DEMO_API_KEY})")
        console.print(f"REST + OpenAPI:    {api.url}/docs   e.g. {api.url}/api/v1/shipments/SHP-0001/timeline")
        console.print(f"quality reports:   file://{results_dir_for(settings)}/data_docs/index.html (GX Data Docs)")
        console.print(f"bronze (Avro):     {settings.storage.bronze}/yyyy/mm/dd/hh/")
        console.print(f"warehouse:         {settings.storage.duckdb_path}")
        console.print(f"logs:              {tour.demo_dir(settings)}/")
        console.print(f"finished in {(dt.datetime.now(dt.UTC) - started).total_seconds():.0f} s")
        healthy = ledger.balanced and live_ok and all(run.state == "success" for run in runs)
        if healthy and (serve if serve is not None else sys.stdin.isatty()):
            console.print("[bold]the API stays up: Ctrl-C stops it and everything the demo started[/]")
            _wait_for_interrupt()
            console.print("stopping ...")
    if not healthy:
        raise typer.Exit(1)


def _stream_live(settings: Settings, *, backfilled: SimulationConfig, live_shipments: int) -> bool:
    """The next hours of the same network, published live while the unbounded pipeline runs;
    prints the event-to-silver latency. Skipped, saying why, where the emulator is missing."""
    from logistics import demo as tour
    from logistics.local import ComponentMissing

    config = tour.live_config(backfilled, shipments=live_shipments, now=dt.datetime.now(dt.UTC))
    rate = 40.0
    try:
        with console.status(f"streaming {live_shipments} new shipments' events at {rate:.0f}/s ..."):
            live = tour.stream_live(settings, config=config, rate=rate)
    except ComponentMissing as missing:
        console.print(f"[yellow]live step skipped:[/] {missing}")
        return True
    final = live.final
    balanced = final.accounted == final.received == live.truth.records
    verdict = "[green]balanced[/]" if balanced else "[red]NOT balanced[/]"
    console.print(
        f"{live.published:,} messages published at {live.rate:.0f}/s: {final.silver:,} into silver, "
        f"{final.dlq:,} to the DLQ, {final.duplicates + final.already_present:,} duplicates dropped ({verdict})"
    )
    if final.latency_p50_s is not None:
        console.print(
            f"event -> silver latency (broker publish to warehouse write): "
            f"p50 {final.latency_p50_s:.2f} s, p95 {final.latency_p95_s:.2f} s"
        )
    return balanced


def _gates_table(outcomes: list[GateOutcome], *, root: Path) -> Table:
    gates = Table(title=f"Quality gates (Great Expectations): Data Docs under {root}/")
    for column in ("table", "day", "result", "report"):
        gates.add_column(column)
    for outcome in outcomes:
        verdict = f"[green]passed[/] {outcome.expectations}" if outcome.success else "[red]FAILED[/]"
        gates.add_row(outcome.table, outcome.day, verdict, str(outcome.report.relative_to(root)))
    return gates


def _port() -> int:
    """8000 as the README says, unless something already holds it."""
    import socket

    from logistics.local import free_port

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 8000))
        except OSError:
            return free_port()
    return 8000


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM. Airflow installs its own SIGTERM handler on first use (and
    a shell may start us with SIGINT ignored), so ours are set here, for the wait only."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
