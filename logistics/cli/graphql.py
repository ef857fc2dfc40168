"""``logistics graphql export|check``: the committed SDL and the breaking-change gate."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from logistics.cli._console import console, err_console

app = typer.Typer(help="GraphQL schema commands.", no_args_is_help=True)


@app.command("export")
def export() -> None:
    """Write the schema's SDL to graphql_api/schema.graphql (commit it)."""
    from graphql_api.sdl import export as write_sdl

    console.print(f"wrote {write_sdl()}")


@app.command("check")
def check(
    against: Annotated[
        str | None, typer.Option(help="Git ref holding the published SDL (default: origin/main, else HEAD~1).")
    ] = None,
) -> None:
    """Fail (exit 1) when the schema breaks clients of the SDL at a git ref, or the committed SDL is stale."""
    from contracts.git_ref import default_ref
    from graphql_api.sdl import SDL_PATH
    from graphql_api.sdl import check as check_sdl

    report = check_sdl(ref=against or default_ref())
    console.print(f"GraphQL schema compared with {report.compared_with}: {len(report.breaking)} breaking change(s)")
    for change in report.breaking:
        err_console.print(f"[red]✗[/] {change}")
        if os.environ.get("GITHUB_ACTIONS"):
            print(f"::error title=GraphQL breaking change::{change}")
    if report.stale:
        err_console.print(f"[red]✗[/] {SDL_PATH} is stale: run `logistics graphql export` and commit it")
    if report.breaking or report.stale:
        raise typer.Exit(1)
