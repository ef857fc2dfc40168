"""``logistics dlq replay``: give dead letters another chance against today's contracts."""

from __future__ import annotations

from typing import Annotated

import typer

from logistics.cli._console import console, err_console

app = typer.Typer(help="Dead-letter queue commands.", no_args_is_help=True)


@app.command("replay")
def replay(
    max_attempts: Annotated[int, typer.Option(min=1, help="Attempts before a record is a permanent failure.")] = 3,
) -> None:
    """Re-validate open DLQ records (each opened from its sealed original with the PII key the
    pipeline used) against today's contracts; re-inject those that pass; retire those out of attempts."""
    from logistics.settings import get_settings
    from pipeline.replay import replay_dlq
    from pipeline.transforms.pii import PiiKeyError

    try:
        report = replay_dlq(settings=get_settings(), max_attempts=max_attempts)
    except PiiKeyError as exc:
        err_console.print(f"[red]no key:[/] {exc}", markup=True, soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(
        f"examined {report.examined}: {report.reinjected} re-injected, {report.still_failing} still failing, "
        f"{report.permanent_failures} moved to permanent_failure"
    )
    if report.unreadable:
        console.print(
            f"{report.unreadable} left open unread: no sealed original (written before DLQ rows kept one) "
            "or sealed under another PII key"
        )
    if report.ledger is not None:
        from logistics.cli.run_pipeline import ledger_table

        console.print(ledger_table(report.ledger))


_SUMMARY_SQL = """
SELECT status, stage, reason_code, event_type, contract_version, COUNT(*) AS records,
       MIN(failed_time) AS first_seen, MAX(failed_time) AS last_seen
FROM clean.dlq_events
GROUP BY status, stage, reason_code, event_type, contract_version
ORDER BY records DESC
LIMIT @top
"""


@app.command("summary")
def summary(top: Annotated[int, typer.Option(min=1, help="Patterns to show.")] = 20) -> None:
    """What is failing: dead letters grouped by status, stage, reason, event type and contract version."""
    from rich.table import Table

    from logistics.settings import get_settings
    from logistics.warehouse import connect

    with connect(get_settings()) as warehouse:
        warehouse.ensure_tables()  # a fresh warehouse: an empty DLQ, not an error
        rows = warehouse.query(_SUMMARY_SQL, {"top": top})
    table = Table(title="Dead letters by pattern (clean.dlq_events)")
    columns = ("status", "stage", "reason_code", "event_type", "contract_version", "records", "first_seen", "last_seen")
    for column in columns:
        table.add_column(column, justify="right" if column == "records" else "left")
    for row in rows:
        table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    console.print(table if rows else "the DLQ is empty")
