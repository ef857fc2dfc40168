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
    """Fail (exit 1) when the schema breaks clients of the SDL at a git ref, or the committed SDL is stale.

    Dangerous changes (an enum value added, a default changed, @requiresScope added or removed, a
    field made nullable) are printed as warnings with their reason and do not fail. A ref that
    cannot be read exits 2.
    """
    from contracts.git_ref import GitRefError, default_ref
    from graphql_api.sdl import SDL_PATH
    from graphql_api.sdl import check as check_sdl

    ref = against or default_ref()
    try:
        report = check_sdl(ref=ref)
    except GitRefError as exc:
        err_console.print(f"[red]cannot read {ref}:[/] {exc}")
        raise typer.Exit(2) from None
    console.print(
        f"GraphQL schema compared with {report.compared_with}: {len(report.breaking)} breaking change(s), "
        f"{len(report.dangerous)} dangerous change(s)"
    )
    in_actions = bool(os.environ.get("GITHUB_ACTIONS"))
    for change in report.dangerous:
        err_console.print(f"[yellow]⚠[/] {change}")
        if in_actions:
            print(f"::warning title=GraphQL dangerous change::{change}")
    for change in report.breaking:
        err_console.print(f"[red]✗[/] {change}")
        if in_actions:
            print(f"::error title=GraphQL breaking change::{change}")
    if report.stale:
        err_console.print(f"[red]✗[/] {SDL_PATH} is stale: run `logistics graphql export` and commit it")
    if report.breaking or report.stale:
        raise typer.Exit(1)
