"""``logistics codegen [--check]``: regenerate artifacts from the registry, or prove they are fresh."""

from __future__ import annotations

from typing import Annotated

import typer

from logistics.cli._console import console, err_console


def codegen(
    check: Annotated[bool, typer.Option("--check", help="Fail (exit 1) if any committed artifact is stale.")] = False,
) -> None:
    """Generate JSON Schemas, Pydantic models, msgspec Structs, Beam coders and BigQuery schemas from contracts/."""
    from codegen import GENERATED_DIR, render, write
    from codegen import check as check_files
    from contracts.registry import RegistryError, load_registry

    try:
        files = render(load_registry())
    except RegistryError as exc:
        err_console.print(f"[red]registry error:[/] {exc}")
        raise typer.Exit(2) from None
    where = GENERATED_DIR.relative_to(GENERATED_DIR.parent.parent)
    if check:
        drift = check_files(files)
        for d in drift:
            err_console.print(f"[red]{d.problem}:[/] {where}/{d.path}")
        if drift:
            err_console.print(f"{len(drift)} generated file(s) out of date: run `logistics codegen` and commit.")
            raise typer.Exit(1)
        console.print(f"[green]fresh:[/] {len(files)} generated files in {where} match the registry")
        return
    changed = write(files)
    for path in changed:
        console.print(f"wrote {where}/{path}")
    console.print(f"{len(files)} artifacts, {len(changed)} changed")
