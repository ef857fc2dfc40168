"""ProcessEvents: the transforms every pipeline shares, as one composite.

raw records -> check (normalize + validate) -> dedupe by event_id under each contract's TTL ->
stage (PII, bronze envelope, enriched silver row, alert); rejects -> PII -> DLQ rows. The
unbounded pipeline (:mod:`pipeline.unbounded`) and the portable bounded one
(:mod:`pipeline.bounded`) both apply it and differ only in their sources and sinks; dedupe
picks state with expiry timers or a GroupByKey by what the input is.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import NamedTuple

import apache_beam as beam
from apache_beam.pvalue import PCollection

from logistics.settings import Settings
from pipeline.dead_letter import DEAD_LETTERS
from pipeline.sinks.silver import dlq_row
from pipeline.transforms.dedupe import DUPLICATES
from pipeline.transforms.dofns import CheckDoFn, DedupeByEventId, ProtectPiiDoFn, StageEventsDoFn
from pipeline.transforms.stage import ALERTS, BRONZE, SILVER


def pii_data_dir(settings: Settings) -> Path | None:
    """Where a local PII key file lives (the embedded default); None in the cloud (Secret Manager)."""
    return settings.storage.resolved_data_dir() if settings.pii.local_key_file else None


class EventOutputs(NamedTuple):
    bronze: PCollection  # protected envelopes of unique events
    silver: PCollection  # (silver table, enriched row)
    dlq: PCollection  # (dlq table, row), PII protected
    alerts: PCollection  # alerts of the configured event types
    duplicates: PCollection  # extra copies of an event_id within its TTL, dropped


class ProcessEvents(beam.PTransform):
    """Raw records (bytes, or SourceRecords with attributes) -> :class:`EventOutputs`.

    ``refresh_seconds``: how often the reference data is reloaded (None: once, a bounded run);
    ``reference``: whose warehouse it comes from, when not the one written (a rebuild built aside).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        source_system: str,
        refresh_seconds: float | None,
        reference: Settings | None = None,
    ) -> None:
        super().__init__()
        self._settings, self._source_system, self._refresh_seconds = settings, source_system, refresh_seconds
        self._reference = reference
        self._data_dir = pii_data_dir(settings)

    def expand(self, records: PCollection) -> EventOutputs:
        settings = self._settings
        checked = records | "Check" >> beam.ParDo(CheckDoFn(source_system=self._source_system)).with_outputs(
            DEAD_LETTERS, main="valid"
        )
        unique = checked.valid | "Dedupe" >> DedupeByEventId(
            allowed_lateness=dt.timedelta(hours=settings.pipeline.allowed_lateness_hours)
        )
        staged = unique.unique | "Stage" >> beam.ParDo(
            StageEventsDoFn(
                settings=settings,
                data_dir=self._data_dir,
                refresh_seconds=self._refresh_seconds,
                reference=self._reference,
            )
        ).with_outputs(BRONZE, SILVER, ALERTS)
        dlq = (
            checked[DEAD_LETTERS]
            | "ProtectDeadLetters"
            >> beam.ParDo(ProtectPiiDoFn(pii=settings.pii, project_id=settings.gcp.project_id, data_dir=self._data_dir))
            | "DlqRow" >> beam.Map(dlq_row)
        )
        return EventOutputs(
            bronze=staged[BRONZE], silver=staged[SILVER], dlq=dlq, alerts=staged[ALERTS], duplicates=unique[DUPLICATES]
        )
