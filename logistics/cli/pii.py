"""``logistics pii ...``: admin commands for PII tokens (authorized use: holding the key is the authorization)."""

from __future__ import annotations

from typing import Annotated

import typer

from logistics.cli._console import err_console

app = typer.Typer(help="PII tokenization: make a key, reverse tokens (needs the key).", no_args_is_help=True)


@app.command("detokenize")
def detokenize(
    tokens: Annotated[list[str], typer.Argument(help="Tokens (tok:v1:...) to reverse.", show_default=False)],
    path: Annotated[str, typer.Option("--path", help="The payload field the tokens came from, e.g. recipient.phone.")],
) -> None:
    """Print the clear value of each token, one per line (key from the configured env var / secret)."""
    from logistics.pii import DetokenizeError, PiiKeyError, Tokenizer
    from logistics.settings import get_settings

    settings = get_settings()
    try:
        tokenizer = Tokenizer.from_settings(settings.pii, project_id=settings.gcp.project_id)
    except PiiKeyError as exc:
        err_console.print(f"[red]no key:[/] {exc}", markup=True)
        raise typer.Exit(1) from None
    clear: list[str] = []
    for token in tokens:
        try:
            clear.append(tokenizer.detokenize(token, path=path))
        except DetokenizeError as exc:
            # Nothing is printed unless every token opens: a partial answer is easy to misread.
            err_console.print(f"cannot detokenize {token[:24]}...: {exc}", markup=False)
            raise typer.Exit(1) from None
    for value in clear:
        typer.echo(value)


@app.command("generate-key")
def generate_key() -> None:
    """Print a fresh random key (base64) for local/dev use: export it as LOGISTICS_PII_KEY.

    Keep it out of the repo; in the cloud the key lives in Secret Manager (``pii.secret``).
    """
    from logistics.pii import Tokenizer

    typer.echo(Tokenizer.generate_key())
