"""``logistics generate``: simulate a carrier network's tracking feed, faults included.

Writes JSON lines (streamed: any size fits in memory) or publishes them to Kafka / Pub/Sub at
a target rate, and prints (and with ``--truth`` writes) the ground truth: events per type,
the faults planted, and where the pipeline should put every record.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from logistics.cli._console import console, err_console

# Help per fault; the rates themselves default to pipeline.sources.simulator.Faults (imported
# lazily: the simulator loads every generated model, too slow for `logistics --help`).
_FAULT_HELP = {
    "duplicate": "Producer retries: the same line again, later.",
    "late": "Events emitted 2-72 h after their event_time.",
    "out_of_order": "Events emitted 1-30 min after their event_time.",
    "malformed": "Truncated writes (the full line follows).",
    "unknown_type": "Extra events of types the registry lacks.",
    "old_version": "Share of shipment.created sent as contract v1.",
    "camel_case": "Lines from a legacy producer (camelCase envelope).",
}


def _rate(kind: str) -> Any:
    return typer.Option(min=0, max=1, help=f"{_FAULT_HELP[kind]} Rate per event.", show_default=False)


def generate(
    shipments: Annotated[int | None, typer.Option(min=1, help="Shipments to book (default 200).")] = None,
    events: Annotated[
        int | None, typer.Option(min=1, help="Approximate records to write (sets --shipments from a calibration).")
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="Days over which shipments are booked.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 7,
    out: Annotated[Path | None, typer.Option(help="Output file (default: <data_dir>/input/events.jsonl).")] = None,
    truth: Annotated[Path | None, typer.Option(help="Also write the ground truth as JSON here.")] = None,
    to: Annotated[
        Literal["file", "kafka", "pubsub"], typer.Option(help="Write a file, or publish to a broker.")
    ] = "file",
    rate: Annotated[float | None, typer.Option(min=1, help="Broker: target messages per second.")] = None,
    topic: Annotated[str | None, typer.Option(help="Broker topic (default: as `logistics publish`).")] = None,
    create: Annotated[bool, typer.Option(help="Pub/Sub: create missing topics and subscriptions.")] = False,
    spine: Annotated[
        bool, typer.Option(help="The small fixed scenario the tests use (3 facilities, 1 duplicate, 1 malformed).")
    ] = False,
    no_faults: Annotated[bool, typer.Option("--no-faults", help="A clean feed: every fault rate 0.")] = False,
    duplicate_rate: Annotated[float | None, _rate("duplicate")] = None,
    late_rate: Annotated[float | None, _rate("late")] = None,
    out_of_order_rate: Annotated[float | None, _rate("out_of_order")] = None,
    malformed_rate: Annotated[float | None, _rate("malformed")] = None,
    unknown_type_rate: Annotated[float | None, _rate("unknown_type")] = None,
    old_version_rate: Annotated[float | None, _rate("old_version")] = None,
    camel_case_rate: Annotated[float | None, _rate("camel_case")] = None,
) -> None:
    """Simulate shipments moving through hubs and depots, with the faults real feeds carry."""
    from logistics.settings import get_settings

    target = out or get_settings().storage.resolved_data_dir() / "input" / "events.jsonl"
    if spine:
        _spine(shipments=shipments or 5, seed=seed, target=target)
        return

    from pipeline.sources.simulator import Faults, SimulationConfig, config_for_events, simulate
    from pipeline.sources.simulator import write_jsonl as write_simulation

    rates = {
        "duplicate": duplicate_rate,
        "late": late_rate,
        "out_of_order": out_of_order_rate,
        "malformed": malformed_rate,
        "unknown_type": unknown_type_rate,
        "old_version": old_version_rate,
        "camel_case": camel_case_rate,
    }
    base = Faults.none() if no_faults else Faults()
    faults = Faults(**(base.model_dump() | {k: v for k, v in rates.items() if v is not None}))
    if events is not None and shipments is not None:
        raise typer.BadParameter("give --events or --shipments, not both")
    if events is not None:
        config = config_for_events(events, days=days, seed=seed, faults=faults)
    else:
        config = SimulationConfig(shipments=shipments or 200, days=days, seed=seed, faults=faults)

    started = time.monotonic()
    simulation = simulate(config)
    if to == "file":
        write_simulation(simulation, target, truth_path=truth)
        where = str(target)
    else:
        from logistics.cli.publish import report_sent
        from pipeline.publish import publish_lines

        sent = publish_lines(
            (line.encode() for line in simulation),
            to=to,
            topic=topic,
            create=create,
            rate=rate,
            say=console.print,
            on_status=err_console.print,
        )
        report_sent(sent, to=to, seconds=time.monotonic() - started)
        if truth is not None:
            simulation.truth.write(truth)
        where = f"{to} ({', '.join(sorted(sent))})"
    seconds = time.monotonic() - started
    result = simulation.truth
    expected = result.expected()
    console.print(
        f"wrote {result.records} records to {where} in {seconds:.1f} s ({result.records / max(seconds, 1e-9):,.0f}/s): "
        f"{result.events} events of {result.shipments} shipments over {config.days} day(s), seed {config.seed}"
    )
    planted = ", ".join(f"{kind} {count}" for kind, count in result.faults.items())
    console.print(f"faults planted: {planted}")
    console.print(
        f"expected after one pipeline run: silver {expected['silver']}, DLQ {expected['dlq']}, "
        f"duplicates {expected['duplicates']} (received {expected['received']})"
    )
    for carrier_id, carrier in sorted(result.carriers.items()):
        rate_text = f"{carrier.on_time_rate:.1%}" if carrier.on_time_rate is not None else "n/a"
        console.print(f"  {carrier_id}: {carrier.delivered} delivered, on time {rate_text}")
    if truth is not None:
        console.print(f"ground truth: {truth}")


def _spine(*, shipments: int, seed: int, target: Path) -> None:
    from pipeline.sources.simulator.spine import generate_events, write_jsonl

    batch = generate_events(shipments=shipments, seed=seed)
    write_jsonl(batch, target)
    console.print(
        f"wrote {batch.records} records to {target} "
        f"({batch.events} events, {batch.duplicates} duplicate, {batch.malformed} malformed)"
    )
