"""``logistics publish``: send a JSON-lines file to Kafka or Pub/Sub, as the producers would.

For demos and tests against a local broker (Tansu, the Pub/Sub emulator): every line
becomes one message, byte for byte, malformed lines included, so the pipeline's DLQ
path is exercised too. Pub/Sub messages are routed and given attributes as every producer
here does it (:mod:`pipeline.sources.routing`: the family's topic unless ``--topic`` is
given); the sending is :mod:`pipeline.publish`. The file is streamed, never read whole,
and ``--rate`` paces the sends to a target number of messages per second (a steady feed for
streaming runs).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from logistics.cli._console import console, err_console
from pipeline.publish import PUBSUB_START_WAIT_S, Broker, publish_lines


def publish(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL file (e.g. from `generate`).")],
    to: Annotated[Broker, typer.Option(help="Broker to publish to.")],
    topic: Annotated[
        str | None,
        typer.Option(help="Topic (default: kafka.topics[0]; Pub/Sub: the event family's topic from config)."),
    ] = None,
    avro: Annotated[
        bool, typer.Option(help="Kafka: send envelopes as Confluent wire-format Avro instead of JSON.")
    ] = False,
    create: Annotated[
        bool,
        typer.Option(
            help="Create what is missing (a local broker or emulator): Kafka: every topic of kafka.topics and the "
            "target; Pub/Sub: the topics and the pipeline's subscriptions."
        ),
    ] = False,
    rate: Annotated[
        float | None, typer.Option(min=1, help="Target messages per second (default: as fast as the broker takes).")
    ] = None,
    give_up_after: Annotated[
        float, typer.Option(min=0, help="Pub/Sub: seconds to wait for a service that does not answer yet.")
    ] = PUBSUB_START_WAIT_S,
) -> None:
    """Publish every line of FILE as one message."""
    started = time.monotonic()
    with file.open("rb") as lines:
        sent = publish_lines(
            _non_blank(lines),
            to=to,
            topic=topic,
            avro=avro,
            create=create,
            rate=rate,
            give_up_after=give_up_after,
            say=console.print,
            on_status=err_console.print,
        )
    report_sent(sent, to=to, seconds=time.monotonic() - started)


def report_sent(sent: Counter[str], *, to: Broker, seconds: float) -> None:
    from logistics.settings import get_settings

    for name, count in sorted(sent.items()):
        console.print(f"published {count} message(s) to {to} topic {name}")
    total = sum(sent.values())
    if total and seconds > 0:
        console.print(f"({total} in {seconds:.1f} s: {total / seconds:,.0f} messages/s)")
    if to == "pubsub":
        console.print(f"(project {get_settings().gcp.project_id})")


def _non_blank(lines: Iterable[bytes]) -> Iterator[bytes]:
    for line in lines:
        stripped = line.rstrip(b"\r\n")
        if stripped.strip():
            yield stripped
