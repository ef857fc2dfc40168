"""``logistics publish``: send a JSON-lines file to Kafka or Pub/Sub, as the producers would.

For demos and tests against a local broker (Tansu, the Pub/Sub emulator): every line
becomes one message, byte for byte, malformed lines included, so the pipeline's DLQ
path is exercised too. Pub/Sub messages carry ``event_type`` and ``trace_id`` attributes
taken from the body (when it parses), and go to their family's topic unless ``--topic``
is given.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import typer

from logistics.cli._console import console


def publish(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL file (e.g. from `generate`).")],
    to: Annotated[Literal["kafka", "pubsub"], typer.Option(help="Broker to publish to.")],
    topic: Annotated[
        str | None,
        typer.Option(help="Topic (default: kafka.topics[0]; Pub/Sub: the event family's topic from config)."),
    ] = None,
    avro: Annotated[
        bool, typer.Option(help="Kafka: send envelopes as Confluent wire-format Avro instead of JSON.")
    ] = False,
    create: Annotated[
        bool, typer.Option(help="Pub/Sub: create missing topics and the pipeline's subscriptions (emulator).")
    ] = False,
) -> None:
    """Publish every line of FILE as one message."""
    from logistics.settings import get_settings

    settings = get_settings()
    lines = [line for line in file.read_bytes().splitlines() if line.strip()]
    sent = _to_kafka(lines, topic=topic, avro=avro) if to == "kafka" else _to_pubsub(lines, topic=topic, create=create)
    for name, count in sorted(sent.items()):
        console.print(f"published {count} message(s) to {to} topic {name}")
    if to == "pubsub":
        console.print(f"(project {settings.gcp.project_id})")


def _body(line: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _to_kafka(lines: list[bytes], *, topic: str | None, avro: bool) -> Counter[str]:
    from confluent_kafka import Producer

    from logistics.settings import get_settings
    from pipeline.sources.kafka import encode_wire_format, security_config

    kafka = get_settings().kafka
    target = topic or (kafka.topics[0] if kafka.topics else None)
    if target is None:
        raise typer.BadParameter("no --topic and no kafka.topics configured")
    producer = Producer(security_config(kafka))
    for line in lines:
        producer.produce(target, value=_as_wire_format(line, encode_wire_format) if avro else line)
        producer.poll(0)  # serve delivery callbacks so the local queue never fills up
    if unsent := producer.flush(30):
        raise RuntimeError(f"{unsent} message(s) were not delivered to {kafka.bootstrap_servers}")
    return Counter({target: len(lines)})


def _as_wire_format(line: bytes, encode: Any) -> bytes:
    """An envelope line as wire-format Avro; lines that are no complete envelope go as they are."""
    from pipeline.transforms.normalize import parse_time, parse_version

    body = _body(line)
    try:
        event_time = parse_time(body["event_time"])
        return bytes(
            encode(
                {
                    "event_id": str(body["event_id"]),
                    "event_type": str(body["event_type"]),
                    "event_version": parse_version(body["event_version"]),
                    "event_time": event_time,
                    "ingest_time": parse_time(body.get("ingest_time") or body["event_time"]),
                    "source_system": str(body.get("source_system") or "publish"),
                    "trace_id": body.get("trace_id"),
                    "payload": orjson.dumps(body["payload"]).decode(),
                }
            )
        )
    except (KeyError, ValueError, TypeError):
        return line


def _to_pubsub(lines: list[bytes], *, topic: str | None, create: bool) -> Counter[str]:
    from contracts.generated.catalog import SUBJECTS
    from logistics.settings import get_settings
    from pipeline.sources.pubsub import ensure_topic_and_subscription
    from pipeline.sources.pubsub import publish as publish_messages

    settings = get_settings()
    topics = settings.pubsub.topics
    fallback = topic or next(iter(t for key, t in topics.items() if key not in {"dlq", "alerts"}))
    by_topic: dict[str, list[tuple[bytes, dict[str, str]]]] = {}
    for line in lines:
        body = _body(line)
        event_type = body.get("event_type")
        attributes = {k: str(body[k]) for k in ("event_type", "trace_id") if body.get(k) is not None}
        spec = SUBJECTS.get(event_type) if isinstance(event_type, str) else None
        target = topic or (topics.get(spec.family, fallback) if spec else fallback)
        by_topic.setdefault(target, []).append((line, attributes))
    sent: Counter[str] = Counter()
    for target, messages in by_topic.items():
        if create:
            ensure_topic_and_subscription(
                project=settings.gcp.project_id,
                topic=target,
                subscription=f"{target}{settings.pubsub.subscription_suffix}",
            )
        sent[target] = publish_messages(project=settings.gcp.project_id, topic=target, messages=messages)
    return sent
