"""``logistics dlq replay``: give dead letters another chance against today's contracts."""

from __future__ import annotations

from typing import Annotated

import typer

from logistics.cli._console import console

app = typer.Typer(help="Dead-letter queue commands.", no_args_is_help=True)


@app.command("replay")
def replay(
    max_attempts: Annotated[int, typer.Option(min=1, help="Attempts before a record is a permanent failure.")] = 3,
) -> None:
    """Re-validate open DLQ records; re-inject those that pass; retire those out of attempts."""
    from logistics.settings import get_settings
    from pipeline.replay import replay_dlq

    report = replay_dlq(settings=get_settings(), max_attempts=max_attempts)
    console.print(
        f"examined {report.examined}: {report.reinjected} re-injected, {report.still_failing} still failing, "
        f"{report.permanent_failures} moved to permanent_failure"
    )
    if report.ledger is not None:
        from logistics.cli.run_pipeline import ledger_table

        console.print(ledger_table(report.ledger))
