"""dofns: the Beam DoFns that apply the per-event functions, one element at a time.

They live apart from the functions they call (:mod:`~pipeline.transforms.check`,
:mod:`~pipeline.transforms.pii`, :mod:`~pipeline.transforms.stage`) because Beam pickles a DoFn
into the job graph and a class compiled by mypyc does not pickle: those modules are compiled
(:mod:`logistics.native`), this one stays Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apache_beam as beam
from apache_beam.metrics.metric import Metrics

from pipeline.dead_letter import DEAD_LETTERS, DeadLetter
from pipeline.progress import PROGRESS
from pipeline.sources.base import SourceRecord
from pipeline.transforms.check import check
from pipeline.transforms.enrich import DimensionCache
from pipeline.transforms.normalize import Envelope
from pipeline.transforms.pii import Tokenizer, protect_dead_letter, protect_envelope
from pipeline.transforms.stage import ALERTS, BRONZE, SILVER, stage_event

if TYPE_CHECKING:
    from logistics.settings import PiiSettings, Settings


class CheckDoFn(beam.DoFn):
    """Raw records in; valid envelopes on the main output, DeadLetters on ``DEAD_LETTERS``."""

    def __init__(self, *, source_system: str) -> None:
        self._source_system = source_system
        self._received = Metrics.counter("ledger", "received")

    def process(self, record: bytes | str | SourceRecord) -> Iterator[Any]:
        self._received.inc()
        PROGRESS.add_received()
        result = check(record, source_system=self._source_system, ingest_time=dt.datetime.now(dt.UTC))
        yield beam.pvalue.TaggedOutput(DEAD_LETTERS, result) if isinstance(result, DeadLetter) else result


class ProtectPiiDoFn(beam.DoFn):
    """Envelope -> protected envelope; DeadLetter -> protected DeadLetter.

    Carries the key's *source* (settings), never the key: the Tokenizer is built on each
    worker in ``setup``, so no key material is pickled into the job graph.
    """

    def __init__(self, *, pii: PiiSettings, project_id: str | None = None, data_dir: Path | None = None) -> None:
        super().__init__()
        self._pii, self._project_id, self._data_dir = pii, project_id, data_dir
        self._tokenizer: Tokenizer | None = None

    def setup(self) -> None:
        if self._tokenizer is None:  # a runner may call setup again on an instance it keeps
            self._tokenizer = Tokenizer.from_settings(self._pii, project_id=self._project_id, data_dir=self._data_dir)

    def process(self, element: dict[str, Any] | DeadLetter) -> Iterator[dict[str, Any] | DeadLetter]:
        assert self._tokenizer is not None, "setup() builds the tokenizer"
        if isinstance(element, DeadLetter):
            yield protect_dead_letter(element, tokenizer=self._tokenizer)
        else:
            yield protect_envelope(element, tokenizer=self._tokenizer)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tokenizer": None}


class StageEventsDoFn(beam.DoFn):
    """Unique envelopes -> ``BRONZE`` protected envelopes, ``SILVER`` (table, row), ``ALERTS`` alerts.

    Carries the PII key's *source*, never the key (the Tokenizer is built in ``setup`` on the
    worker), and holds the reference data itself (:class:`DimensionCache`), reloaded every
    ``refresh_seconds`` on an unbounded run: a pattern the local runner and Dataflow both run.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        data_dir: Path | None,
        refresh_seconds: float | None,
        reference: Settings | None = None,
    ) -> None:
        super().__init__()
        self._pii: PiiSettings = settings.pii
        self._project_id = settings.gcp.project_id
        self._data_dir = data_dir
        self._alert_types = frozenset(settings.pipeline.alert_event_types)
        # Reference data comes from ``reference``'s warehouse (default: where the rows go).
        self._dims = DimensionCache(settings=reference or settings, refresh_seconds=refresh_seconds)
        self._tokenizer: Tokenizer | None = None

    def setup(self) -> None:
        if self._tokenizer is None:  # a runner may call setup again on an instance it keeps
            self._tokenizer = Tokenizer.from_settings(self._pii, project_id=self._project_id, data_dir=self._data_dir)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tokenizer": None}

    def process(self, envelope: Envelope) -> Iterator[Any]:
        assert self._tokenizer is not None, "setup() builds the tokenizer"
        staged = stage_event(
            envelope, tokenizer=self._tokenizer, dims=self._dims.current(), alert_event_types=self._alert_types
        )
        yield beam.pvalue.TaggedOutput(BRONZE, staged.protected)
        yield beam.pvalue.TaggedOutput(SILVER, (staged.table, staged.row))
        if staged.alert is not None:
            yield beam.pvalue.TaggedOutput(ALERTS, staged.alert)
