"""``run-pipeline --streaming``: the unbounded pipeline on the local streaming runner, until stopped.

It reads the configured Pub/Sub subscriptions (the emulator locally); with ``--source kafka``
a Kafka bridge runs beside it in this process, forwarding the consumer group into those
topics and committing offsets once Pub/Sub has each batch. A live line shows the rate and the
ingest-to-silver latency. Ctrl-C or SIGTERM stops reading, lets what was read reach its sinks,
then ends the job and prints the balance.

What the local runner cannot promise: it acknowledges Pub/Sub messages when it reads them, so
a process killed without that stop (SIGKILL, a crash) loses what it had read but not yet
written. The Kafka path loses nothing to a killed bridge (it commits after Pub/Sub has the
records). On Dataflow, acknowledgement follows the runner's checkpoint (docs/streaming.md).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from rich.live import Live
from rich.table import Table

from logistics.cli._console import console
from logistics.settings import Settings


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM set ``stop`` (for the block only)."""

    def handler(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_streaming(*, settings: Settings, source: Literal["kafka", "pubsub"], idle_timeout: float | None) -> bool:
    """Run until stopped (or, with ``idle_timeout``, until nothing arrived for that long); balanced?"""
    import os

    from pipeline.unbounded import ensure_topics, start_unbounded

    if os.environ.get("PUBSUB_EMULATOR_HOST"):
        ensure_topics(settings)  # a fresh emulator has none; in the cloud Terraform made them
    stop = threading.Event()
    bridge: threading.Thread | None = None
    bridge_failed: list[Exception] = []
    with stop_on_signals(stop):
        run = start_unbounded(settings=settings)
        console.print(
            f"streaming from pubsub {settings.gcp.project_id} (run {run.run_id}); Ctrl-C stops reading, "
            "lets what was read reach its sinks, then stops"
        )
        if source == "kafka":
            bridge = _start_bridge(settings, stop=stop, failed=bridge_failed)
        last_change, last_seen = time.monotonic(), -1
        with Live(console=console, refresh_per_second=2, transient=False) as live:
            while not stop.wait(1.0):
                snapshot = run.progress()
                live.update(snapshot.line())
                if snapshot.received != last_seen:
                    last_change, last_seen = time.monotonic(), snapshot.received
                elif idle_timeout is not None and time.monotonic() - last_change >= idle_timeout:
                    break
        stop.set()
        if bridge is not None:
            bridge.join(timeout=30)
        final = run.stop(drain=True)
    console.print(_balance(final))
    if bridge_failed:  # after the balance: what was bridged before it stopped is accounted for
        raise bridge_failed[0]
    return final.accounted == final.received


def _start_bridge(settings: Settings, *, stop: threading.Event, failed: list[Exception]) -> threading.Thread:
    """The bridge in a thread; if it fails (a broker that stayed away, a missing topic), the error
    goes to ``failed`` and ``stop`` is set, so the run drains what it read and the command reports
    the error in one line, instead of a thread's traceback and a stream that waits forever."""
    from pipeline.sources.kafka import KafkaBatchSource
    from pipeline.sources.kafka_bridge import run_bridge

    source = KafkaBatchSource(kafka=settings.kafka)
    console.print(f"bridging kafka {settings.kafka.bootstrap_servers} topics {', '.join(source.topics)} into pubsub")

    def forward() -> None:
        try:
            run_bridge(source, settings=settings, stop=stop)
        except Exception as error:
            failed.append(error)
            stop.set()
        finally:
            source.close()

    thread = threading.Thread(target=forward, name="kafka-bridge", daemon=True)
    thread.start()
    return thread


def _balance(snapshot: object) -> Table:
    from pipeline.progress import Snapshot

    assert isinstance(snapshot, Snapshot)
    table = Table(title="Conservation ledger (unbounded run)")
    table.add_column("where")
    table.add_column("records", justify="right")
    table.add_row("received", str(snapshot.received))
    table.add_row("silver", str(snapshot.silver))
    table.add_row("DLQ", str(snapshot.dlq))
    table.add_row("duplicates dropped", str(snapshot.duplicates))
    table.add_row("already in silver or the DLQ (redelivered)", str(snapshot.already_present))
    verdict = "[green]balanced[/]" if snapshot.accounted == snapshot.received else "[red]NOT balanced[/]"
    table.add_row("accounted for", f"{snapshot.accounted} {verdict}")
    return table
