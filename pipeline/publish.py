"""Send lines to Kafka or Pub/Sub as the producers would: one message per line, byte for byte.

Pub/Sub messages are routed and given attributes by :mod:`pipeline.sources.routing` (the family's
topic unless one is given); Kafka gets each line as JSON or, with ``avro``, as Confluent
wire-format Avro. Lines are streamed, never read whole, and ``rate`` paces the sends. Used by
``logistics publish`` and ``logistics generate --to``, the demo and the streaming benchmark.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Literal

import orjson

log = logging.getLogger(__name__)

Broker = Literal["kafka", "pubsub"]
PUBSUB_START_WAIT_S = 60.0  # how long publish waits for Pub/Sub (an emulator starts in ~10 s)
_PUBSUB_CHUNK = 500  # messages awaited together: bounded memory, still batched on the wire


def publish_lines(
    lines: Iterable[bytes],
    *,
    to: Broker,
    topic: str | None = None,
    avro: bool = False,
    create: bool = False,
    rate: float | None = None,
    give_up_after: float = PUBSUB_START_WAIT_S,
    say: Callable[[str], None] = log.info,
    on_status: Callable[[str], None] = log.warning,
) -> Counter[str]:
    """Send each line as one message (streamed), paced to ``rate`` messages/s when given.

    ``say`` gets what was set up (topics created), ``on_status`` each wait for a broker that does
    not answer yet (the CLI prints them; by default they are logged)."""
    pacer = Pacer(rate)
    if to == "kafka":
        return _to_kafka(lines, topic=topic, avro=avro, create=create, pacer=pacer, say=say)
    return _to_pubsub(lines, topic=topic, create=create, pacer=pacer, give_up_after=give_up_after, on_status=on_status)


class Pacer:
    """Holds a sender to ``rate`` messages/s on average: it sleeps whenever the sends run ahead of
    the schedule ``n / rate`` seconds after the first one (so a slow stretch is caught up on)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.sent = 0
        self._start: float | None = None

    def tick(self, count: int = 1) -> None:
        if self.rate is None:
            return
        now = time.monotonic()
        if self._start is None:
            self._start = now
        self.sent += count
        ahead = self.sent / self.rate - (now - self._start)
        if ahead > 0.002:  # below a couple of ms, sleeping costs more accuracy than it buys
            time.sleep(ahead)


def _body(line: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _to_kafka(
    lines: Iterable[bytes], *, topic: str | None, avro: bool, create: bool, pacer: Pacer, say: Callable[[str], None]
) -> Counter[str]:
    from confluent_kafka import Producer

    from logistics.errors import SourceUnavailable
    from logistics.settings import get_settings, setting_problem
    from pipeline.sources.kafka import encode_wire_format, ensure_topics, security_config

    kafka = get_settings().kafka
    target = topic or (kafka.topics[0] if kafka.topics else None)
    if target is None:
        raise setting_problem("kafka.topics", "no topic given (--topic) and none configured")
    if create:
        for created in ensure_topics(kafka, topics=[*kafka.topics, target]):
            say(f"created Kafka topic {created}")
    producer = Producer(security_config(kafka))
    count = 0
    for line in lines:
        value = _as_wire_format(line, encode_wire_format) if avro else line
        while True:
            try:
                producer.produce(target, value=value)
                break
            except BufferError:  # the local queue is full: let librdkafka drain it, then retry
                producer.poll(0.1)
        producer.poll(0)  # serve delivery callbacks so the local queue never fills up
        count += 1
        pacer.tick()
    if unsent := producer.flush(30):
        raise SourceUnavailable(
            f"broker at {kafka.bootstrap_servers} unreachable while publishing: {unsent} of {count} message(s) "
            "not delivered within 30 s"
        )
    return Counter({target: count})


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


def _to_pubsub(
    lines: Iterable[bytes],
    *,
    topic: str | None,
    create: bool,
    pacer: Pacer,
    give_up_after: float,
    on_status: Callable[[str], None],
) -> Counter[str]:
    from google.cloud.pubsub_v1 import PublisherClient

    from logistics.settings import get_settings
    from pipeline.sources.base import Backoff, Retrying
    from pipeline.sources.pubsub import check_reachable, ensure_topic_and_subscription
    from pipeline.sources.pubsub import publish as publish_messages
    from pipeline.sources.routing import route

    settings = get_settings()
    # Wait (bounded, saying so) for a service that is still starting, e.g. an emulator just launched.
    retrying = Retrying(backoff=Backoff(max_s=8, give_up_after_s=give_up_after), on_status=on_status)
    retrying(lambda: check_reachable(project=settings.gcp.project_id))
    event_topics = settings.pubsub.event_topics()
    client = PublisherClient()
    ready: set[str] = set()
    sent: Counter[str] = Counter()
    chunk: dict[str, list[tuple[bytes, dict[str, str]]]] = {}

    def flush() -> None:
        for target, messages in chunk.items():
            if create and target not in ready:
                ensure_topic_and_subscription(
                    project=settings.gcp.project_id,
                    topic=target,
                    subscription=f"{target}{settings.pubsub.subscription_suffix}",
                )
                ready.add(target)
            sent[target] += publish_messages(
                project=settings.gcp.project_id, topic=target, messages=messages, publisher=client
            )
        chunk.clear()

    pending = 0
    # Paced runs flush every ~0.1 s of messages, so the feed arrives steadily, not in bursts.
    chunk_size = _PUBSUB_CHUNK if pacer.rate is None else max(1, min(_PUBSUB_CHUNK, int(pacer.rate / 10)))
    for line in lines:
        routed, attributes = route(line, event_topics=event_topics)
        chunk.setdefault(topic or routed, []).append((line, attributes))
        pending += 1
        if pending >= chunk_size:
            flush()
            pacer.tick(pending)
            pending = 0
    flush()
    pacer.tick(pending)
    return sent
