"""``logistics``: the platform's command line."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from logistics.cli import (
    build_marts,
    codegen,
    contracts,
    demo,
    dlq,
    generate,
    gold_sql,
    graphql,
    kafka_bridge,
    ledger,
    pii,
    publish,
    quality,
    replay,
    run_pipeline,
    serve,
    sla,
)
from logistics.cli._failures import ReportingGroup

app = typer.Typer(
    name="logistics",
    help="Contract-first logistics event platform: contracts -> pipeline -> bronze/silver/gold -> GraphQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ReportingGroup,
)


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="On failure show the traceback too; log at INFO level.")
    ] = False,
) -> None:
    """Errors you can fix print as one line each (`error: ...`); `--debug` adds the traceback."""
    if debug:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")


app.command("codegen")(codegen.codegen)
app.add_typer(contracts.app, name="contracts")
app.add_typer(pii.app, name="pii")
app.add_typer(graphql.app, name="graphql")
app.command("generate")(generate.generate)
app.command("run-pipeline")(run_pipeline.run_pipeline)
app.command("publish")(publish.publish)
app.command("kafka-bridge")(kafka_bridge.kafka_bridge)
app.add_typer(dlq.app, name="dlq")
app.command("replay")(replay.replay)
app.command("ledger")(ledger.ledger)
app.command("build-marts")(build_marts.build_marts)
app.command("gold-sql")(gold_sql.gold_sql)
app.add_typer(quality.app, name="quality")
app.command("serve")(serve.serve)
app.command("sla")(sla.sla)
app.command("demo")(demo.demo)

if __name__ == "__main__":
    app()
