"""Alert files: the alerts of the configured event types as JSON lines under ``storage.alerts``.

Written per writer (a shard, a bundle, a streaming batch) through Beam filesystems; published
to the alerts topic after the load when ``pipeline.publish_to_topics`` is on (bounded runs, see
:mod:`pipeline.sinks.topics`), or straight from the stream.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import IO, Any

import apache_beam as beam
import orjson
from apache_beam.io.filesystems import FileSystems

from pipeline.sinks.silver import done_token


def alert_line(alert: dict[str, Any]) -> bytes:
    return orjson.dumps(alert, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE)


class AlertFile:
    """One writer's alerts, the file created on the first alert (no alerts, no file)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._fh: IO[bytes] | None = None
        self.written = 0

    def add(self, alert: dict[str, Any]) -> None:
        if self._fh is None:
            self._fh = FileSystems.create(self._path)
        self._fh.write(alert_line(alert))
        self.written += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def alerts_file(root: str, *, run_id: str, part: str) -> str:
    return f"{root.rstrip('/')}/alerts-{run_id}-{part}.jsonl"


class WriteAlertsDoFn(beam.DoFn):
    """Alerts -> one file per bundle (bounded pipelines); a done token per bundle."""

    def __init__(self, *, root: str, run_id: str) -> None:
        self._root, self._run_id = root, run_id
        self._file: AlertFile | None = None

    def start_bundle(self) -> None:
        self._file = AlertFile(alerts_file(self._root, run_id=self._run_id, part=uuid.uuid4().hex[:12]))

    def process(self, alert: dict[str, Any]) -> None:
        assert self._file is not None, "start_bundle() opens the file"
        self._file.add(alert)

    def finish_bundle(self) -> Iterator[Any]:
        if self._file is not None:
            self._file.close()
            self._file = None
        yield done_token()


def write_alert_lines(path: str, alerts: Iterable[dict[str, Any]]) -> None:
    with FileSystems.create(path) as fh:
        for alert in alerts:
            fh.write(alert_line(alert))
