"""``logistics serve``: the GraphQL/REST API on uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each reads its own snapshot of the warehouse file).")
    ] = 1,
) -> None:
    """Serve GraphQL (+ GraphiQL when introspection is on) at /graphql, REST under /api/v1, /health, /ready."""
    import uvicorn

    from graphql_api.rate_limit import effective_limit
    from logistics.cli._preflight import require, warehouse_command_problems
    from logistics.settings import get_settings

    settings = get_settings()
    if not settings.storage.duckdb_path.exists() and settings.warehouse.backend == "duckdb":
        typer.echo(f"no warehouse at {settings.storage.duckdb_path}: run `make demo` first", err=True)
        raise typer.Exit(1)
    require(warehouse_command_problems(settings, write=False))
    if not settings.api.keys:
        typer.echo("warning: no API keys configured (api.keys): every data request will be 401", err=True)
    per_process = settings.api.rate_limit_per_minute
    # Each worker keeps its own buckets (docs/api.md): say what that means for one key on this host.
    typer.echo(
        f"rate limit: {per_process} requests/minute per key in each of {workers} worker process(es): "
        f"up to {effective_limit(per_process, processes=workers)}/minute per key on this host",
        err=True,
    )
    uvicorn.run(
        "graphql_api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
        ws_max_size=settings.api.max_body_bytes,  # a WebSocket message is held to the body limit too
    )
