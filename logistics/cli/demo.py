"""``logistics demo``: the main job end to end on embedded defaults, then where to look."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.table import Table

from logistics.cli._console import console

EXAMPLE_QUERIES = {
    "a shipment's timeline": """{
  shipment(id: "SHP-0001") {
    id status totalTransitHours
    timeline { eventType time facilityId }
  }
}""",
}


def demo(
    shipments: Annotated[int, typer.Option(min=1, help="Shipments to simulate.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Generate events -> pipeline -> bronze/silver/DLQ -> gated gold -> GraphQL."""
    from dags.gold import build_gold
    from graphql_api.local import run_query
    from logistics.cli.run_pipeline import ledger_table
    from logistics.settings import get_settings
    from logistics.warehouse import connect
    from pipeline.run import run_pipeline
    from pipeline.sources.generator import generate_events, write_jsonl
    from quality.gate import QualityGateFailed, results_dir_for

    settings = get_settings()
    data_dir = settings.storage.resolved_data_dir()
    batch = generate_events(shipments=shipments, seed=seed)
    source = write_jsonl(batch, data_dir / "input" / "events.jsonl")
    console.rule("1. generate")
    console.print(f"{batch.records} records -> {source} ({batch.duplicates} duplicate, {batch.malformed} malformed)")

    console.rule("2. pipeline: normalize -> validate -> dedupe -> PII -> enrich -> bronze + silver + DLQ")
    with console.status("running the Beam pipeline (local runner) ..."):
        ledger = run_pipeline(settings=settings, input_pattern=str(source))
    console.print(ledger_table(ledger))

    console.rule("3. gold: stage -> quality gate -> publish")
    gates = Table(title="Quality gates (Great Expectations)")
    for column in ("table", "day", "result", "report"):
        gates.add_column(column)
    days = sorted({t.date() for t in batch.delivered.values()})
    gate_failed = False
    with connect(settings) as warehouse:
        for day in days:
            try:
                build = build_gold(warehouse, day=day, results_dir=results_dir_for(settings))
            except QualityGateFailed as failure:
                gate_failed = True
                console.print(f"[red]gate failed for {day}: nothing published[/] ({failure})")
                continue
            for gate in build.gates:
                verdict = "[green]passed[/]" if gate.success else "[red]failed[/]"
                gates.add_row(gate.table, str(gate.day or "-"), verdict, str(gate.report_path))
        layers = Table(title="Rows per layer")
        layers.add_column("table")
        layers.add_column("rows", justify="right")
        for table in (
            "clean.shipment_events",
            "clean.delivery_events",
            "clean.facility_events",
            "clean.driver_events",
            "clean.dlq_events",
            "clean.event_counts_5m",
            "curated.dim_facility",
            "curated.dim_carrier",
            "curated.dim_driver",
            "curated.fact_shipments",
            "curated.fact_deliveries",
            "features.ml_delivery_features",
        ):
            layers.add_row(table, str(warehouse.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]))
    console.print(layers)
    console.print(gates)

    console.rule("4. GraphQL")
    for title, query in EXAMPLE_QUERIES.items():
        console.print(f"[bold]{title}[/]\n{query}")
        console.print_json(json.dumps(run_query(settings, query), default=str))

    console.rule("where the data landed")
    console.print(f"bronze (Avro):               {settings.storage.bronze}/yyyy/mm/dd/hh/")
    console.print(f"silver, DLQ, gold (DuckDB):  {settings.storage.duckdb_path}")
    console.print(f"quality reports (HTML):      {results_dir_for(settings)}")
    console.print(f"alerts:                      {data_dir / 'alerts'}")
    console.print(
        "serve the API:  .venv/bin/logistics serve   then open http://127.0.0.1:8000/graphql "
        "(send the header X-API-Key: local-dev-key)"
    )
    console.print(f"finished at {dt.datetime.now(dt.UTC):%H:%M:%S} UTC")
    if not ledger.balanced or gate_failed:
        raise typer.Exit(1)
