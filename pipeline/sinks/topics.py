"""The output topics: DLQ rows, alerts and updates (new silver shipment/delivery events), published.

On-call tooling and DLQ consumers subscribe instead of polling the warehouse, and the API's
live subscriptions fan out the updates topic. Delivery is at-least-once: consumers dedupe on
the ``dlq_id`` / ``alert_id`` / ``event_id`` attribute. With ``pipeline.publish_to_topics: false``
(the embedded default) the files and the tables are the destinations and nothing is published.

- Bounded runs publish after their load (:func:`publish_run_outputs`), so a message never
  announces a row the warehouse does not hold; a crash between the load and the publish
  republishes on the rerun.
- The unbounded pipeline publishes from the stream (:class:`PublishMessages`): DLQ rows and
  updates once their batch is written, alerts as they are raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import orjson
from apache_beam import DoFn
from apache_beam.io.filesystems import FileSystems

from logistics.settings import Settings
from logistics.updates import is_update, update_message
from pipeline.sinks.alerts import alerts_glob
from pipeline.sinks.silver import DLQ, staged_rows

# Message attributes: what a subscription filter or a router keys on without parsing bodies.
DLQ_ATTRIBUTES = ("dlq_id", "reason_code", "stage", "event_type", "contract_version", "source_system")
ALERT_ATTRIBUTES = ("alert_id", "event_type", "trace_id", "shipment_id", "facility_id")

Message = tuple[bytes, dict[str, str]]


def attributes_of(row: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: str(row[name]) for name in names if row.get(name) is not None}


def row_message(row: Mapping[str, Any], *, attributes: tuple[str, ...]) -> Message:
    return orjson.dumps(row, option=orjson.OPT_UTC_Z), attributes_of(row, attributes)


@dataclass(frozen=True)
class Published:
    dlq: int = 0
    alerts: int = 0
    updates: int = 0


def publish_run_outputs(settings: Settings, *, run_id: str, staging: str) -> Published:
    """Publish a bounded run's staged DLQ rows, its alerts and its silver updates (when configured)."""
    if not settings.pipeline.publish_to_topics:
        return Published()
    from pipeline.sources.pubsub import publish

    project, topics = settings.gcp.project_id, settings.pubsub.topics
    dlq = publish(
        project=project,
        topic=topics["dlq"],
        messages=(row_message(row, attributes=DLQ_ATTRIBUTES) for row in staged_rows(staging, DLQ)),
    )
    alerts = publish(
        project=project,
        topic=topics["alerts"],
        messages=(
            row_message(row, attributes=ALERT_ATTRIBUTES)
            for row in _rows(alerts_glob(settings.storage.alerts, run_id=run_id))
        ),
    )
    updates = 0
    if "updates" in topics:
        from logistics.warehouse import silver_tables

        updated = [t.name for t in silver_tables().values() if is_update(t.name)]
        updates = publish(
            project=project,
            topic=topics["updates"],
            messages=(update_message(table, row) for table in updated for row in staged_rows(staging, table)),
        )
    return Published(dlq=dlq, alerts=alerts, updates=updates)


def _rows(pattern: str) -> Iterator[dict[str, Any]]:
    """Each JSON line of the matching files."""
    for match in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(match.path) as fh:
            for line in fh.read().splitlines():
                if line.strip():
                    yield orjson.loads(line)


class PublishMessages(DoFn):
    """Elements -> messages on one topic, sent asynchronously and all confirmed before the bundle
    commits (a bundle that fails is retried whole: at-least-once)."""

    def __init__(self, *, project: str, topic: str, to_message: Callable[[Any], Message | None]) -> None:
        self._project, self._topic, self._to_message = project, topic, to_message
        self._client: Any = None
        self._pending: list[Future[str]] = []

    def setup(self) -> None:
        from google.cloud.pubsub_v1 import PublisherClient

        if self._client is None:  # a runner may call setup again on an instance it keeps
            self._client = PublisherClient()

    def start_bundle(self) -> None:
        self._pending = []  # a failed bundle's futures are not this bundle's

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None, "_pending": []}

    def process(self, element: Any) -> None:
        message = self._to_message(element)
        if message is not None:
            data, attributes = message
            self._pending.append(
                self._client.publish(self._client.topic_path(self._project, self._topic), data, **attributes)
            )

    def finish_bundle(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            future.result(timeout=60)


def update_of(table_row: tuple[str, dict[str, Any]]) -> Message | None:
    """The updates-topic message of a written silver row, or None for tables that are not published."""
    table, row = table_row
    return update_message(table, row) if is_update(table) else None


def dlq_message(table_row: tuple[str, dict[str, Any]]) -> Message | None:
    table, row = table_row
    return row_message(row, attributes=DLQ_ATTRIBUTES) if table == DLQ else None


def alert_message(alert: dict[str, Any]) -> Message:
    return row_message(alert, attributes=ALERT_ATTRIBUTES)
