"""dofns: the Beam DoFns that apply the per-event functions, one element at a time, and what they hold.

They live apart from the functions they call (:mod:`~pipeline.transforms.check`,
:mod:`~pipeline.transforms.dedupe`, :mod:`~pipeline.transforms.pii`,
:mod:`~pipeline.transforms.enrich`, :mod:`~pipeline.transforms.stage`) because Beam pickles a
DoFn into the job graph and a class compiled by mypyc does not pickle: those modules are compiled
(:mod:`logistics.native`), this one stays Python.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apache_beam as beam
from apache_beam.coders import ListCoder, VarIntCoder
from apache_beam.metrics.metric import Metrics
from apache_beam.pvalue import DoOutputsTuple, PCollection
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Timestamp

from contracts.generated.coders import BronzeCoder
from pipeline.dead_letter import DEAD_LETTERS, DeadLetter
from pipeline.progress import PROGRESS
from pipeline.sources.base import SourceRecord
from pipeline.transforms.check import check
from pipeline.transforms.dedupe import DUPLICATES, is_duplicate, keep_first, ttl_of
from pipeline.transforms.enrich import DimensionSnapshot, load_dimensions_for
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


# ---------------------------------------------------------------------------- dedupe

# The envelope with what the pipeline carries beside the contract's fields (pii_sealed, on a
# replay of bronze or the DLQ), exactly as bronze archives it: nothing is lost in the shuffle.
_CODER = BronzeCoder()
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


class _KeepFirstDoFn(beam.DoFn):
    def __init__(self) -> None:
        self._duplicates = Metrics.counter("ledger", "duplicates")

    def process(self, keyed: tuple[str, Iterable[bytes]]) -> Iterator[Any]:
        kept, extra = keep_first(_CODER.decode(encoded) for encoded in keyed[1])
        yield from kept
        for duplicate in extra:
            self._duplicates.inc()
            yield beam.pvalue.TaggedOutput(DUPLICATES, duplicate)


def _micros(at: dt.datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


class StatefulDedupeDoFn(beam.DoFn):
    """Streaming dedupe: the kept copies' event times per event_id, forgotten after TTL + lateness."""

    KEPT = ReadModifyWriteStateSpec("kept_event_times", ListCoder(VarIntCoder()))  # epoch microseconds
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)

    def __init__(self, *, allowed_lateness: dt.timedelta = dt.timedelta(hours=24)) -> None:
        self._lateness = allowed_lateness
        self._duplicates = Metrics.counter("ledger", "duplicates")

    def process(
        self,
        keyed: tuple[str, Envelope],
        kept_state: Any = beam.DoFn.StateParam(KEPT),
        expiry: Any = beam.DoFn.TimerParam(EXPIRY),
    ) -> Iterator[Any]:
        envelope = keyed[1]
        kept: list[int] = kept_state.read() or []
        if is_duplicate(envelope, (_EPOCH + m * _MICROSECOND for m in kept)):
            self._duplicates.inc()
            PROGRESS.add_duplicates()
            yield beam.pvalue.TaggedOutput(DUPLICATES, envelope)
            return
        kept = [*kept, _micros(envelope["event_time"])]
        kept_state.write(kept)
        forget_at = _EPOCH + max(kept) * _MICROSECOND + ttl_of(envelope) + self._lateness
        expiry.set(Timestamp.from_utc_datetime(forget_at))
        yield envelope

    @on_timer(EXPIRY)
    def expire(self, kept_state: Any = beam.DoFn.StateParam(KEPT)) -> None:
        kept_state.clear()


class DedupeByEventId(beam.PTransform):
    """Main output ``unique``: first copies; ``duplicates``: every extra copy within the TTL.

    Bounded input groups the copies of each id (GroupByKey: the runner spreads the ids over
    its workers); unbounded input keeps state per id (:class:`StatefulDedupeDoFn`).
    """

    def __init__(self, *, allowed_lateness: dt.timedelta = dt.timedelta(hours=24)) -> None:
        super().__init__()
        self._lateness = allowed_lateness

    def expand(self, envelopes: PCollection) -> DoOutputsTuple:
        if envelopes.is_bounded:
            return (
                envelopes
                # Avro-encoded (the generated coder) for the shuffle: far cheaper than pickling dicts.
                | "KeyEncoded"
                >> beam.Map(lambda e: (e["event_id"], _CODER.encode(e))).with_output_types(tuple[str, bytes])
                | "GroupByEventId" >> beam.GroupByKey()
                | "KeepFirst" >> beam.ParDo(_KeepFirstDoFn()).with_outputs(DUPLICATES, main="unique")
            )
        return (
            envelopes
            | "KeyByEventId"
            >> beam.Map(lambda e: (e["event_id"], e)).with_output_types(
                tuple[str, Any]  # a str key coder is deterministic, as stateful processing requires
            )
            | "KeptState"
            >> beam.ParDo(StatefulDedupeDoFn(allowed_lateness=self._lateness)).with_outputs(DUPLICATES, main="unique")
        )


# ---------------------------------------------------------------------------- reference data

log = logging.getLogger(__name__)


# Snapshots loaded in this process, shared by every copy of a cache: a runner may deserialize a
# DoFn per bundle (the local streaming runner does), and each copy must not reload the warehouse.
# A dict, not cachetools' TTLCache: a TTLCache drops an entry once it expires, and a reload that
# then fails (warehouse unreachable) must still find the old snapshot to keep enriching with.
_LOADED: dict[str, tuple[float, DimensionSnapshot]] = {}
_LOADED_LOCK = threading.Lock()


class DimensionCache:
    """The snapshot an enriching DoFn holds: loaded on first use, reloaded once older than
    ``refresh_seconds`` (None: never, as bounded runs want), shared by the copies of the cache in
    one process. A failed reload keeps the snapshot it has (logged): enrichment degrades to older
    reference data, it never stops the stream."""

    def __init__(
        self,
        *,
        settings: Settings,
        refresh_seconds: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings, self._refresh, self._clock = settings, refresh_seconds, clock
        self._key = f"{refresh_seconds}|{id(clock) if clock is not time.monotonic else ''}|{settings.model_dump_json()}"

    def __getstate__(self) -> dict[str, Any]:
        # Pickled into the job graph: the settings travel, the snapshot is loaded on the worker.
        return {**self.__dict__, "_clock": time.monotonic} if self._clock is time.monotonic else self.__dict__

    def current(self) -> DimensionSnapshot:
        now = self._clock()
        with _LOADED_LOCK:
            loaded_at, snapshot = _LOADED.get(self._key, (0.0, None))
            stale = self._refresh is not None and now - loaded_at >= self._refresh
            if snapshot is not None and not stale:
                return snapshot
            try:
                snapshot = load_dimensions_for(self._settings)
            except Exception as exc:  # the warehouse being unreachable must not stop events
                if snapshot is None:
                    snapshot = DimensionSnapshot(loaded_at=dt.datetime.now(dt.UTC))
                log.warning(
                    "reference data not reloaded (%s); enriching with the snapshot loaded at %s",
                    exc,
                    snapshot.loaded_at,
                )
            _LOADED[self._key] = (now, snapshot)
            return snapshot


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
