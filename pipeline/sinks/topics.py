"""The DLQ and alerts topics: what a run wrote to the DLQ table and the alerts files, also published.

On-call tooling and DLQ consumers subscribe instead of polling the warehouse. Publishing runs
after the load step, so a message never announces a row the warehouse does not hold; a crash
between the load and the publish republishes on the rerun (at-least-once: consumers dedupe
on the ``dlq_id`` / ``alert_id`` attribute). Locally (``pipeline.publish_to_topics: false``)
the files and the table are the destinations and nothing is published.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson
from apache_beam.io.filesystems import FileSystems

from logistics.settings import Settings
from pipeline.sinks.silver import DLQ

# Message attributes: what a subscription filter or a router keys on without parsing bodies.
_DLQ_ATTRIBUTES = ("dlq_id", "reason_code", "stage", "event_type", "contract_version", "source_system")
_ALERT_ATTRIBUTES = ("alert_id", "event_type", "trace_id", "shipment_id", "facility_id")


@dataclass(frozen=True)
class Published:
    dlq: int = 0
    alerts: int = 0


def alerts_pattern(settings: Settings, run_id: str) -> str:
    return f"{settings.storage.alerts}/alerts-{run_id}-*.jsonl"


def publish_run_outputs(settings: Settings, *, run_id: str, staging: str) -> Published:
    """Publish the run's staged DLQ rows and its alerts to their topics (when configured)."""
    if not settings.pipeline.publish_to_topics:
        return Published()
    from pipeline.sources.pubsub import publish

    project, topics = settings.gcp.project_id, settings.pubsub.topics
    dlq = publish(
        project=project,
        topic=topics["dlq"],
        messages=_messages(f"{staging}/{DLQ}/*.jsonl", attributes=_DLQ_ATTRIBUTES),
    )
    alerts = publish(
        project=project,
        topic=topics["alerts"],
        messages=_messages(alerts_pattern(settings, run_id), attributes=_ALERT_ATTRIBUTES),
    )
    return Published(dlq=dlq, alerts=alerts)


def _messages(pattern: str, *, attributes: tuple[str, ...]) -> Iterator[tuple[bytes, dict[str, str]]]:
    """Each JSON line of the matching files as (body, string attributes taken from it)."""
    for match in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(match.path) as fh:
            for line in fh.read().splitlines():
                if not line.strip():
                    continue
                row = orjson.loads(line)
                yield line, {name: str(row[name]) for name in attributes if row.get(name) is not None}
