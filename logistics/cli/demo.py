"""``logistics demo``: the spine end to end on embedded defaults, then where to look."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.table import Table

from logistics.cli._console import console

EXAMPLE_QUERY = """{
  shipment(id: "SHP-0001") {
    id status totalTransitHours
    timeline { eventType time facilityId }
  }
}"""


def demo(
    shipments: Annotated[int, typer.Option(min=1, help="Shipments to simulate.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Generate events -> pipeline -> bronze/silver/DLQ -> gold -> a GraphQL query."""
    from dags.gold import build_fact_shipments
    from graphql_api.context import RequestContext
    from graphql_api.deps import read_only_opener
    from graphql_api.schema import schema
    from logistics.cli.run_pipeline import ledger_table
    from logistics.settings import get_settings
    from logistics.warehouse import connect
    from pipeline.run import run_pipeline
    from pipeline.sources.generator import generate_events, write_jsonl

    settings = get_settings()
    data_dir = settings.storage.resolved_data_dir()
    batch = generate_events(shipments=shipments, seed=seed)
    source = write_jsonl(batch, data_dir / "input" / "events.jsonl")
    console.rule("1. generate")
    console.print(f"{batch.records} records -> {source} ({batch.duplicates} duplicate, {batch.malformed} malformed)")

    console.rule("2. pipeline: normalize -> validate -> dedupe -> bronze + silver + DLQ")
    with console.status("running the Beam pipeline (local runner) ..."):
        ledger = run_pipeline(settings=settings, input_pattern=str(source))
    console.print(ledger_table(ledger))

    console.rule("3. gold")
    days = sorted({t.date() for t in batch.delivered.values()})
    rows = Table(title="Rows per layer")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    with connect(settings) as warehouse:
        for day in days:
            build_fact_shipments(warehouse, day=day)
        for table in (
            "clean.shipment_events",
            "clean.delivery_events",
            "clean.facility_events",
            "clean.driver_events",
            "clean.dlq_events",
            "curated.fact_shipments",
        ):
            rows.add_row(table, str(warehouse.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]))
    console.print(rows)

    console.rule("4. GraphQL")
    result = schema.execute_sync(EXAMPLE_QUERY, context_value=RequestContext(warehouse=read_only_opener(settings)))
    answer = {"data": result.data, "errors": [str(e) for e in result.errors or []]}
    console.print(EXAMPLE_QUERY)
    console.print_json(json.dumps(answer))

    console.rule("where the data landed")
    console.print(f"bronze (Avro): {settings.storage.bronze}/yyyy/mm/dd/hh/")
    console.print(f"silver, DLQ, gold (DuckDB): {settings.storage.duckdb_path}")
    console.print("serve the API:  .venv/bin/logistics serve   then open http://127.0.0.1:8000/graphql")
    console.print(f"finished at {dt.datetime.now(dt.UTC):%H:%M:%S} UTC")
    if not ledger.balanced:
        raise typer.Exit(1)
