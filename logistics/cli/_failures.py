"""How a command's failure reaches the terminal: one line per problem, the traceback only with ``--debug``."""

from __future__ import annotations

from typing import Any

import typer
from rich.text import Text
from typer._click.core import Context
from typer.core import TyperGroup

from logistics.cli._console import err_console
from logistics.errors import LogisticsError

# Typer's own control flow (exit codes, usage errors, Ctrl-C): never reported as a failure here.
_CONTROL_FLOW = (typer.Exit, typer.Abort, typer.TyperException, KeyboardInterrupt, EOFError)


class ReportingGroup(TyperGroup):
    """The root command group: runs every command inside one handler.

    A :class:`LogisticsError` prints as ``error: <line>`` for each line of its message and exits
    with its code; any other exception is a bug, printed as one line that says so. With
    ``--debug`` both propagate with their traceback.
    """

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except _CONTROL_FLOW:
            raise
        except LogisticsError as exc:
            if ctx.params.get("debug"):
                raise
            report(exc)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            err_console.print(
                Text.assemble(
                    ("unexpected error: ", "red"),
                    f"{type(exc).__name__}: {_first_line(exc)} (a bug: `logistics --debug ...` shows the traceback)",
                )
            )
            raise typer.Exit(1) from None


def report(exc: LogisticsError) -> None:
    """Print each line of the error's message on stderr as ``error: ...`` (markup-free: messages hold brackets)."""
    for line in str(exc).splitlines() or [type(exc).__name__]:
        err_console.print(Text.assemble(("error: ", "red"), line), soft_wrap=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"
