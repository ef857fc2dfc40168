"""route: which extra destinations an event goes to besides bronze and silver.

Valid events always land in bronze and silver; rejects go to the DLQ (see the stages).
Configured event types are also copied to the alerts topic (locally: JSON lines under
``<data_dir>/alerts/``), so on-call tooling hears about exceptions without polling silver.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import IO, Any

import apache_beam as beam
import orjson
from apache_beam.pvalue import PCollection

from pipeline.sinks._files import WriteGroupedFiles
from pipeline.transforms.normalize import Envelope


def alert_of(envelope: Envelope) -> dict[str, Any]:
    payload = orjson.loads(envelope["payload"])
    return {
        "alert_id": envelope["event_id"],
        "event_type": envelope["event_type"],
        "event_time": envelope["event_time"],
        "shipment_id": payload.get("shipment_id"),
        "facility_id": payload.get("facility_id"),
        "detail": payload.get("exception_code") or payload.get("reason"),
        "trace_id": envelope["trace_id"],
        "raised_at": dt.datetime.now(dt.UTC),
    }


def _write_alerts(fh: IO[bytes], alerts: Iterable[dict[str, Any]]) -> None:
    for alert in alerts:
        fh.write(orjson.dumps(alert, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE))


class RouteAlerts(beam.PTransform):
    """Copies events of the configured types to the alerts destination; outputs the alerts."""

    def __init__(self, *, event_types: Iterable[str], root: str, run_id: str) -> None:
        super().__init__()
        self._types = frozenset(event_types)
        self._root, self._run_id = root, run_id

    def expand(self, envelopes: PCollection) -> PCollection:
        types, run_id = self._types, self._run_id
        alerts = (
            envelopes | "IsAlert" >> beam.Filter(lambda e: e["event_type"] in types) | "ToAlert" >> beam.Map(alert_of)
        )
        (
            alerts
            | "ToFile" >> beam.Map(lambda a: (f"alerts-{run_id}.jsonl", a))
            | "Write" >> WriteGroupedFiles(root=self._root, write_file=_write_alerts)
        )
        return alerts
