"""What every source hands the pipeline, and the contract for sources that need acknowledging.

A streaming source (Kafka, Pub/Sub) is drained in micro-batches: ``poll`` a batch, run
it through the pipeline until bronze, silver and the DLQ have it durably, then
``commit`` (Kafka offsets / Pub/Sub acks). A crash before ``commit`` means the broker
redelivers the batch; dedupe and idempotent sinks make that harmless
(at-least-once delivery, effectively-once results).

A source that cannot reach its broker raises :class:`~logistics.errors.SourceUnavailable`
(its message starts with where it reads from, e.g. "broker at 127.0.0.1:9092 unreachable"),
and every call into the broker is bounded in time; the drain decides how long to keep
retrying. An error retrying will not fix (a missing topic) is a
:class:`~logistics.errors.SourceError`. An empty ``poll`` means nothing arrived in time, not
that the topic is drained: only ``drained`` says that.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from logistics.errors import RetriesExhausted, SourceUnavailable

log = logging.getLogger(__name__)
BrokerName = Literal["kafka", "pubsub"]
T = TypeVar("T")


@dataclass(frozen=True)
class SourceRecord:
    value: bytes  # the message body exactly as received
    source_system: str  # "kafka:<topic>", "pubsub:<subscription>", "file"
    attributes: dict[str, str] = field(default_factory=dict)  # Pub/Sub attributes / Kafka headers
    publish_time: dt.datetime | None = None  # broker time: fallback event time when the body has none


class BatchSource(Protocol):
    """A source drained in acknowledged micro-batches."""

    where: str  # "broker at 127.0.0.1:9092", "Pub/Sub emulator at 127.0.0.1:8085": how messages name it

    def poll(self, *, max_records: int, timeout_s: float) -> list[SourceRecord]:
        """Up to ``max_records`` records, waiting at most ``timeout_s`` for the first."""
        ...

    def commit(self) -> None:
        """Acknowledge everything returned by ``poll`` so far (only after it is durably written)."""
        ...

    def drained(self) -> bool:
        """Whether nothing is left to read, as the broker itself says (asked after an empty ``poll``):
        Kafka compares the group's offsets with each partition's end offset; Pub/Sub, which has no
        backlog query, takes an empty pull confirmed by the service answering right after."""
        ...

    def close(self) -> None:
        """Stop reading, committing nothing more; returns in bounded time even if the broker hangs."""
        ...


@dataclass(frozen=True)
class Backoff:
    """How long to wait between attempts at a source that does not answer: ``first_s``, doubling
    up to ``max_s``; give up once it has failed for ``give_up_after_s`` in a row."""

    first_s: float = 1.0
    max_s: float = 30.0
    give_up_after_s: float = 300.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_s, self.first_s * 2**attempt))


class Retrying:
    """Call into a source until it answers: on :class:`SourceUnavailable`, one status line
    ("<its message>, retrying in 8 s"), a wait (``backoff``), and the same call again;
    :class:`RetriesExhausted` once that call has failed for ``backoff.give_up_after_s``.

    ``wait`` sleeps between attempts; pass a ``threading.Event``'s ``wait`` to be stoppable (it
    returning true re-raises the error instead of retrying). Other errors pass through.
    """

    def __init__(
        self,
        *,
        backoff: Backoff = Backoff(),
        on_status: Callable[[str], None] = log.warning,
        wait: Callable[[float], object] = time.sleep,
    ) -> None:
        self._backoff = backoff
        self._on_status = on_status
        self._wait = wait

    def __call__(self, call: Callable[[], T]) -> T:
        failing_since: float | None = None
        attempt = 0
        while True:
            try:
                return call()
            except SourceUnavailable as exc:
                now = time.monotonic()
                failing_since = now if failing_since is None else failing_since
                left = self._backoff.give_up_after_s - (now - failing_since)
                if left <= 0:
                    raise RetriesExhausted(f"gave up after {now - failing_since:.0f} s of retrying: {exc}") from exc
                delay = min(self._backoff.delay(attempt), left)
                self._on_status(f"{exc}, retrying in {delay:.0f} s")
                if self._wait(delay):  # a stop was asked for: no further attempt
                    raise
                attempt += 1
