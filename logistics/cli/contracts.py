"""``logistics contracts check [--against REF]``: the compatibility gate."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from logistics.cli._console import console, err_console

app = typer.Typer(help="Contract registry commands.", no_args_is_help=True)


@app.command("check")
def check(
    against: Annotated[
        str | None,
        typer.Option(help="Git ref holding the published registry (default: origin/main, else HEAD~1)."),
    ] = None,
    no_ref: Annotated[bool, typer.Option("--no-ref", help="Only check versions within the registry.")] = False,
) -> None:
    """Fail (exit 1) when a contract change would break a producer or consumer; say why.

    Legal changes that still alter what consumers see (a logical type added or removed) are
    printed as warnings and do not fail. A registry that does not load exits 2.
    """
    from contracts.gate import check_against, check_registry
    from contracts.git_ref import GitRefError, default_ref, load_registry_at
    from contracts.registry import RegistryError, load_registry

    try:
        registry = load_registry()
    except RegistryError as exc:
        err_console.print(f"[red]registry error:[/] {exc}")
        raise typer.Exit(2) from None
    failures = check_registry(registry)
    ref = None if no_ref else against or default_ref()
    compared = "no git ref"
    if ref:
        try:
            published = load_registry_at(ref)
        except GitRefError as exc:
            err_console.print(f"[red]cannot read {ref}:[/] {exc}")
            raise typer.Exit(2) from None
        if published is not None:
            failures += check_against(registry, published, ref=ref)
            compared = ref
        else:
            compared = f"{ref} (no registry there yet)"

    table = Table(title=f"Contract compatibility (against {compared})")
    for column in ("subject", "mode", "versions", "result"):
        table.add_column(column)
    errors = [f for f in failures if not f.warning]
    warnings = [f for f in failures if f.warning]
    failed_subjects = {f.subject for f in errors}
    warned_subjects = {f.subject for f in warnings}
    for name, mode, count in [
        ("envelope", registry.envelope_compatibility, len(registry.envelope_versions)),
        *((s.name, s.compatibility, len(s.versions)) for s in registry.subjects.values()),
    ]:
        result = (
            "[red]FAIL[/]"
            if name in failed_subjects
            else "[yellow]warn[/]"
            if name in warned_subjects
            else "[green]ok[/]"
        )
        table.add_row(name, mode.value, str(count), result)
    console.print(table)
    in_actions = bool(os.environ.get("GITHUB_ACTIONS"))  # surface the reason on the pull request
    for warning in warnings:
        err_console.print(f"[yellow]⚠[/] {warning.message}")
        if in_actions:
            print(f"::warning title=contract {warning.subject}::{warning.message}")
    for failure in errors:
        err_console.print(f"[red]✗[/] {failure.message}")
        if in_actions:
            print(f"::error title=contract {failure.subject}::{failure.message}")
    if errors:
        raise typer.Exit(1)
