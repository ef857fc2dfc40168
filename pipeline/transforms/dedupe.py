"""dedupe: one event per event_id within its contract's TTL; extra copies are counted, never silent.

The rule (:func:`is_duplicate`), the same in a batch, across runs and in the stream:
a copy of an event_id is a duplicate when its **event time** lies within the subject's
``dedupe_ttl_hours`` of a copy already kept; copies are taken in the order they were seen
(ingest time). A copy farther away in event time is a new event, and is kept. Because the
distance is measured in event time (which travels with the event), the answer does not
depend on how the input was batched: a rerun, a redelivered micro-batch, and a rebuild from
bronze (which holds only kept copies, pairwise at least a TTL apart) all decide alike.

Executions of the rule:
- :func:`keep_first` over all copies of one id (the bounded paths: a GroupByKey by event_id,
  or the local runner's shard files through :func:`first_copies`);
- :class:`StatefulDedupeDoFn` on unbounded input: the event times of the kept copies of each
  id live in state until the watermark passes the last of them by the TTL plus the allowed
  lateness (after that a copy within the TTL could only arrive beyond the allowed lateness);
- across runs and behind an expired state, the silver load: a row is inserted only if no row
  with its event_id lies within the TTL in event time (``logistics.warehouse``), so silver
  holds each event once whatever reached it twice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.coders import ListCoder, VarIntCoder
from apache_beam.metrics.metric import Metrics
from apache_beam.pvalue import DoOutputsTuple, PCollection
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Timestamp

from contracts.generated.catalog import SUBJECTS
from contracts.generated.coders import BronzeCoder
from pipeline.progress import PROGRESS
from pipeline.transforms.normalize import Envelope

DUPLICATES = "duplicates"
# The envelope with what the pipeline carries beside the contract's fields (pii_sealed, on a
# replay of bronze or the DLQ), exactly as bronze archives it: nothing is lost in the shuffle.
_CODER = BronzeCoder()
DEFAULT_TTL_HOURS = 24
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def ttl_hours(event_type: str) -> int:
    spec = SUBJECTS.get(event_type)
    return spec.dedupe_ttl_hours if spec else DEFAULT_TTL_HOURS


# Every contract's TTL, made once: ttl_of runs per event.
_TTLS = {name: dt.timedelta(hours=spec.dedupe_ttl_hours) for name, spec in SUBJECTS.items()}
_DEFAULT_TTL = dt.timedelta(hours=DEFAULT_TTL_HOURS)


def ttl_of(envelope: Envelope) -> dt.timedelta:
    return _TTLS.get(envelope["event_type"], _DEFAULT_TTL)


def is_duplicate(envelope: Envelope, kept_event_times: Iterable[dt.datetime]) -> bool:
    """A copy within its TTL, in event time, of any copy of its id already kept."""
    at = envelope["event_time"]
    ttl = None  # looked up only when there is a kept copy to measure against (most ids have none)
    for kept in kept_event_times:
        if ttl is None:
            ttl = ttl_of(envelope)
        if abs(at - kept) < ttl:
            return True
    return False


class KeptCopies:
    """The TTL rule over a stream seen once, in order, in one process (the plain loop): the event
    times of the copies kept so far, per event_id."""

    def __init__(self) -> None:
        # One event time per id, the common case, held as itself; a list only for an id kept again.
        self._kept: dict[str, dt.datetime | list[dt.datetime]] = {}

    def keep(self, envelope: Envelope) -> bool:
        """True: a first copy (now kept); False: a duplicate of a kept copy, under :func:`is_duplicate`."""
        event_id = envelope["event_id"]
        kept = self._kept.get(event_id)
        if kept is None:
            self._kept[event_id] = envelope["event_time"]
            return True
        times = kept if isinstance(kept, list) else [kept]
        if is_duplicate(envelope, times):
            return False
        times.append(envelope["event_time"])
        self._kept[event_id] = times
        return True


def _seen_order(envelope: Envelope) -> tuple[Any, ...]:
    # Ingest order; ties broken by content, so the choice is deterministic.
    return envelope["ingest_time"], envelope["event_time"], envelope["payload"], envelope["source_system"]


def keep_first(copies: Iterable[Envelope]) -> tuple[list[Envelope], list[Envelope]]:
    """Split copies of one event_id into (kept, duplicates) under the TTL rule, in the order seen."""
    kept: list[Envelope] = []
    duplicates: list[Envelope] = []
    for envelope in sorted(copies, key=_seen_order):
        if is_duplicate(envelope, (k["event_time"] for k in kept)):
            duplicates.append(envelope)
        else:
            kept.append(envelope)
    return kept, duplicates


def first_copies(
    envelopes: Callable[[], Iterable[Envelope]], *, event_ids: Iterable[str]
) -> Iterator[tuple[bool, Envelope]]:
    """``(kept, envelope)`` for every envelope of a shard, decided as :func:`keep_first` decides.

    ``envelopes`` is called once, after counting ``event_ids`` (the same ids, cheap to read):
    an id seen once streams straight through, and only the copies of repeated ids are held
    until the end, so memory grows with the duplicates, not with the shard.
    """
    copies = Counter(event_ids)
    repeated: dict[str, list[Envelope]] = {}
    for envelope in envelopes():
        if copies[envelope["event_id"]] == 1:
            yield True, envelope
        else:
            repeated.setdefault(envelope["event_id"], []).append(envelope)
    for group in repeated.values():
        kept, extra = keep_first(group)
        yield from ((True, envelope) for envelope in kept)
        yield from ((False, envelope) for envelope in extra)


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
