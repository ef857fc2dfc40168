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
    """Print the clear value of each token, one per line.

    The key is the one the pipeline tokenized with, found the way the pipeline finds it: Secret
    Manager (``pii.secret``), else ``LOGISTICS_PII_KEY``, else the local key file under the data
    folder. A missing key is reported, never made: a new key would open none of the tokens.
    """
    from logistics.pii import DetokenizeError, PiiKeyError, Tokenizer
    from logistics.settings import get_settings

    try:
        tokenizer = Tokenizer.for_settings(get_settings(), create_local_key=False)
    except PiiKeyError as exc:
        err_console.print(f"[red]no key:[/] {exc}", markup=True, soft_wrap=True)
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

    Keep it out of the repo; in the cloud the key lives in Secret Manager (``pii.secret``). A new
    key is for a new deployment: tokens and sealed DLQ records open only with the key that made them.
    """
    from logistics.pii import Tokenizer

    typer.echo(Tokenizer.generate_key())
