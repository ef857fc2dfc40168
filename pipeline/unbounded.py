"""The unbounded pipeline: Pub/Sub (and Kafka, bridged into Pub/Sub) through :class:`ProcessEvents`.

The production path, run as the streaming Dataflow job (``infra/docker/dataflow_main.py``)
and, at modest rates, by the local streaming runner (``logistics run-pipeline --streaming``):

    ReadFromPubSub per event subscription (attributes, publish time)
      -> check -> dedupe (state per event_id, expiry timer) -> stage (PII, enrichment with
         reference data reloaded hourly, alerts)
      -> bronze: Avro per event hour, a file per batch        (WriteBronze)
      -> silver, DLQ: batched MERGEs under each key rule       (MergeRows)
      -> event_counts_5m: 5-minute windows, early each minute, late for 24 h, upserted
      -> topics: updates (written shipment/delivery rows), DLQ rows, alerts

Every transform has a fixed, unique label: Dataflow's ``--update`` matches a running job's
steps to the new graph's by them.

Delivery: on Dataflow the Pub/Sub read acknowledges after the runner's checkpoint, so a crash
loses nothing and the sinks' key rules absorb replays; the local streaming runner acknowledges
on read, so a local crash can lose what was read but not yet written (see docs/streaming.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from logistics.settings import Settings, setting_problem
from logistics.warehouse import connect
from pipeline.events import ProcessEvents
from pipeline.progress import PROGRESS, Snapshot
from pipeline.sinks.alerts import AlertHours
from pipeline.sinks.bronze import WriteBronze
from pipeline.sinks.rows import MergeRows
from pipeline.sinks.topics import PublishMessages, alert_message, dlq_message, update_of
from pipeline.sources.base import SourceRecord
from pipeline.sources.pubsub import plain_datetime, subscriptions_from_settings
from pipeline.sources.routing import SOURCE_ATTRIBUTE
from pipeline.windows.event_counts import TABLE as COUNTS
from pipeline.windows.event_counts import EventCounts5m

log = logging.getLogger(__name__)


def source_record(message: Any, *, subscription: str) -> SourceRecord:
    """A Pub/Sub message as the pipeline's SourceRecord (attributes and publish time kept)."""
    attributes = dict(message.attributes or {})
    published = message.publish_time
    return SourceRecord(
        value=bytes(message.data),
        source_system=attributes.get(SOURCE_ATTRIBUTE) or f"pubsub:{subscription}",
        attributes=attributes,
        publish_time=plain_datetime(published) if published and published.timestamp() > 0 else None,
    )


class _WriteAlertBatchDoFn(beam.DoFn):
    """A batch of alerts -> their hour files (each alert once per hour folder); the alerts written,
    which go on to the alerts topic."""

    def __init__(self, *, root: str, run_id: str) -> None:
        self._root, self._run_id = root, run_id

    def process(self, batch: tuple[Any, Iterable[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
        alerts = list(batch[1])
        part = hashlib.sha256("\n".join(sorted(a["alert_id"] for a in alerts)).encode()).hexdigest()[:16]
        hours = AlertHours(root=self._root, run_id=self._run_id, part=part)
        for alert in alerts:
            hours.add(alert)
        yield from hours.close()


def build_unbounded(pipeline: beam.Pipeline, *, settings: Settings, run_id: str) -> None:
    """Wire the unbounded pipeline into ``pipeline`` (which must be a streaming pipeline)."""
    project, topics, flow = settings.gcp.project_id, settings.pubsub.topics, settings.pipeline
    subscriptions = subscriptions_from_settings(topics, suffix=settings.pubsub.subscription_suffix)
    if not subscriptions:
        raise setting_problem("pubsub.topics", "no event topics configured: nothing to read")
    id_label = {"id_label": flow.pubsub_id_attribute} if flow.pubsub_id_attribute else {}
    reads = [
        pipeline
        | f"Read {name}"
        >> beam.io.ReadFromPubSub(
            subscription=f"projects/{project}/subscriptions/{name}", with_attributes=True, **id_label
        )
        | f"Record {name}" >> beam.Map(source_record, subscription=name)
        for name in subscriptions
    ]
    records = reads | "Records" >> beam.Flatten() if len(reads) > 1 else reads[0]
    events = records | "Events" >> ProcessEvents(
        settings=settings, source_system="pubsub", refresh_seconds=flow.dimension_refresh_seconds
    )

    events.bronze | "Bronze" >> WriteBronze(
        root=settings.storage.bronze, run_id=run_id, max_buffering_seconds=flow.bronze_flush_seconds
    )
    counts = events.bronze | "Counts" >> EventCounts5m(
        window_seconds=flow.window_size_seconds, allowed_lateness_hours=flow.allowed_lateness_hours
    )
    written = (
        (events.silver, events.dlq, counts["rows"] | "CountRows" >> beam.Map(lambda row: (COUNTS, row)))
        | "Rows" >> beam.Flatten()
        | "Write" >> MergeRows(settings=settings, flush_seconds=flow.flush_seconds)
    )
    raised = (
        events.alerts
        | "KeyAlerts" >> beam.Map(lambda alert: ("alerts", alert))
        | "BatchAlerts" >> beam.GroupIntoBatches.WithShardedKey(1_000, max_buffering_duration_secs=flow.flush_seconds)
        | "AlertFiles" >> beam.ParDo(_WriteAlertBatchDoFn(root=settings.storage.alerts, run_id=run_id))
    )
    if flow.publish_to_topics:
        publish: list[tuple[str, str, Any, Callable[[Any], Any]]] = [
            ("PublishUpdates", "updates", written, update_of),
            ("PublishDlq", "dlq", written, dlq_message),
            ("PublishAlerts", "alerts", raised, alert_message),
        ]
        for label, key, source, to_message in publish:
            if key in topics:
                source | label >> beam.ParDo(PublishMessages(project=project, topic=topics[key], to_message=to_message))


def ensure_topics(settings: Settings) -> None:
    """Create every configured topic and the pipeline's subscriptions where missing (the local
    emulator; in the cloud Terraform creates them)."""
    from pipeline.sources.pubsub import ensure_topic_and_subscription

    suffix = settings.pubsub.subscription_suffix
    for topic in settings.pubsub.topics.values():
        # Output topics get a subscription too, so what the pipeline publishes can be read locally.
        ensure_topic_and_subscription(project=settings.gcp.project_id, topic=topic, subscription=f"{topic}{suffix}")


@dataclass
class StreamingRun:
    """A running unbounded pipeline on the local streaming runner; :meth:`stop` ends it."""

    result: Any
    run_id: str
    settings: Settings
    started: dt.datetime

    def progress(self) -> Snapshot:
        return PROGRESS.snapshot()

    def stop(self, *, drain: bool = True) -> Snapshot:
        """End the job. ``drain``: first stop reading, and let every batch already read reach its
        sink (up to the bronze flush interval), so nothing read is lost; then cancel."""
        if drain:
            from pipeline.local_runner import direct_streaming

            direct_streaming.pause_reads()
            flow = self.settings.pipeline
            paused = time.monotonic()
            wait_until_quiet(idle_s=flow.flush_seconds + 0.5, timeout_s=flow.bronze_flush_seconds + 10)
            time.sleep(max(0.0, flow.bronze_flush_seconds + 1 - (time.monotonic() - paused)))
        snapshot = PROGRESS.snapshot()
        self.result.cancel()
        return snapshot


def start_unbounded(
    *, settings: Settings, pipeline_args: Iterable[str] = (), run_id: str | None = None
) -> StreamingRun:
    """Build and start the unbounded pipeline; on the local runner it runs in this process's threads."""
    from pipeline.run import avoid_state_cache_trap, new_run_id, runs_locally

    run_id = run_id or new_run_id()
    if runs_locally(settings):
        from pipeline.local_runner import direct_streaming

        direct_streaming.install()
    with connect(settings) as warehouse:  # the sinks write from the first batch on
        warehouse.ensure_tables()
    options = PipelineOptions(list(pipeline_args), runner=settings.pipeline.runner, save_main_session=False)
    options.view_as(StandardOptions).streaming = True
    avoid_state_cache_trap()
    PROGRESS.reset()
    pipeline = beam.Pipeline(options=options)
    build_unbounded(pipeline, settings=settings, run_id=run_id)
    result = pipeline.run()
    return StreamingRun(result=result, run_id=run_id, settings=settings, started=dt.datetime.now(dt.UTC))


def run_until_stopped(
    run: StreamingRun,
    *,
    stop: threading.Event,
    on_progress: Callable[[Snapshot], None] | None = None,
    every_s: float = 1.0,
) -> Snapshot:
    """Report progress every ``every_s`` until ``stop`` is set, then stop the run; its last snapshot."""
    try:
        while not stop.wait(every_s):
            if on_progress is not None:
                on_progress(run.progress())
            if _failed(run.result):
                break
    finally:
        snapshot = run.stop()
    return snapshot


def _failed(result: Any) -> bool:
    state = getattr(result, "state", None)
    return str(state) in {"FAILED", "PipelineState.FAILED"}


def wait_until_quiet(*, idle_s: float, timeout_s: float) -> Snapshot:
    """Block until nothing new has been written for ``idle_s`` (or ``timeout_s`` passed)."""
    deadline = time.monotonic() + timeout_s
    last, quiet_since = PROGRESS.snapshot(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = PROGRESS.snapshot()
        if (now.received, now.accounted) != (last.received, last.accounted):
            last, quiet_since = now, time.monotonic()
        elif now.accounted >= now.received and time.monotonic() - quiet_since >= idle_s:
            return now
    return PROGRESS.snapshot()
