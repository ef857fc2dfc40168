"""Alert files: the alerts of the configured event types as JSON lines, by event hour.

``<storage.alerts>/yyyy/mm/dd/hh/alerts-<run>-<part>.jsonl``, written through Beam filesystems;
an hour folder never holds an alert_id twice (:mod:`pipeline.sinks.archive`), so a rerun or a
replay raises nothing again. What a run wrote is published to the alerts topic after its load
(bounded runs, :mod:`pipeline.sinks.topics`) or straight from the stream.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import orjson
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import Metrics

from pipeline.sinks.archive import archived_ids, hour_folder
from pipeline.sinks.silver import done_token


def alert_line(alert: dict[str, Any]) -> bytes:
    return orjson.dumps(alert, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE)


def alerts_path(root: str, hour: dt.datetime, *, run_id: str, part: str) -> str:
    return f"{hour_folder(root, hour)}/alerts-{run_id}-{part}.jsonl"


def alerts_glob(root: str, *, run_id: str) -> str:
    """Every alert file a run wrote."""
    return f"{root.rstrip('/')}/*/*/*/*/alerts-{run_id}-*.jsonl"


def alert_ids(path: str) -> list[str]:
    with FileSystems.open(path) as fh:
        return [str(orjson.loads(line)["alert_id"]) for line in fh.read().splitlines() if line.strip()]


def _hour(alert: dict[str, Any]) -> dt.datetime:
    at = alert["event_time"]
    moment = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    return moment.replace(minute=0, second=0, microsecond=0)


class AlertHours:
    """One writer's alerts, held per event hour (alerts are few) and written on :meth:`close`,
    leaving out those the hour's folder already holds."""

    def __init__(self, *, root: str, run_id: str, part: str) -> None:
        self._root, self._run_id, self._part = root, run_id, part
        self._hours: dict[dt.datetime, list[dict[str, Any]]] = {}

    def add(self, alert: dict[str, Any]) -> None:
        self._hours.setdefault(_hour(alert), []).append(alert)

    def close(self) -> list[dict[str, Any]]:
        """Write each hour's new alerts; the alerts written."""
        written: list[dict[str, Any]] = []
        for hour, alerts in sorted(self._hours.items()):
            path = alerts_path(self._root, hour, run_id=self._run_id, part=self._part)
            known = archived_ids(self._root, hour, ids_of=alert_ids, except_prefix=path)
            fresh = [a for a in alerts if a["alert_id"] not in known]
            if fresh:
                with FileSystems.create(path) as fh:
                    for alert in fresh:
                        fh.write(alert_line(alert))
                written.extend(fresh)
        self._hours.clear()
        return written


class WriteAlertsDoFn(beam.DoFn):
    """Alerts -> files per bundle (bounded pipelines); a done token per bundle."""

    def __init__(self, *, root: str, run_id: str) -> None:
        self._root, self._run_id = root, run_id
        self._alerts: AlertHours | None = None
        self._written = Metrics.counter("ledger", "alerts")

    def start_bundle(self) -> None:
        self._alerts = AlertHours(root=self._root, run_id=self._run_id, part=uuid.uuid4().hex[:12])

    def process(self, alert: dict[str, Any]) -> None:
        assert self._alerts is not None, "start_bundle() opens the files"
        self._alerts.add(alert)

    def finish_bundle(self) -> Iterator[Any]:
        written = 0
        if self._alerts is not None:
            written = len(self._alerts.close())
            self._written.inc(written)
            self._alerts = None
        yield done_token(alerts=written)
