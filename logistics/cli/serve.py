"""``logistics serve``: the GraphQL/REST API on uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve GraphiQL at /graphql, REST under /api/v1 and /health, on the configured warehouse."""
    import uvicorn

    from graphql_api.app import create_app

    uvicorn.run(create_app(), host=host, port=port, log_level="info")
