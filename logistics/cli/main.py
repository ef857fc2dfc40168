"""``logistics``: the platform's command line."""

from __future__ import annotations

import typer

from logistics.cli import build_marts, codegen, contracts, demo, generate, run_pipeline, serve

app = typer.Typer(
    name="logistics",
    help="Contract-first logistics event platform: contracts -> pipeline -> bronze/silver/gold -> GraphQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("codegen")(codegen.codegen)
app.add_typer(contracts.app, name="contracts")
app.command("generate")(generate.generate)
app.command("run-pipeline")(run_pipeline.run_pipeline)
app.command("build-marts")(build_marts.build_marts)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)

if __name__ == "__main__":
    app()
