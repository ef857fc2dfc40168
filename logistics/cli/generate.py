"""``logistics generate``: write synthetic tracking events as JSON lines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from logistics.cli._console import console


def generate(
    shipments: Annotated[int, typer.Option(min=1, help="Shipments to simulate.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same events.")] = 7,
    out: Annotated[Path | None, typer.Option(help="Output file (default: <data_dir>/input/events.jsonl).")] = None,
) -> None:
    """Generate realistic events (plus one duplicate and one malformed line) for the pipeline."""
    from logistics.settings import get_settings
    from pipeline.sources.generator import generate_events, write_jsonl

    target = out or get_settings().storage.resolved_data_dir() / "input" / "events.jsonl"
    batch = generate_events(shipments=shipments, seed=seed)
    write_jsonl(batch, target)
    console.print(
        f"wrote {batch.records} records to {target} "
        f"({batch.events} events, {batch.duplicates} duplicate, {batch.malformed} malformed)"
    )
