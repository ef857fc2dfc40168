"""event_counts_5m: events per (type, facility) in 5-minute event-time windows, near real time.

FixedWindows(300 s) fire early every 60 s of processing time, on time at the watermark,
and again for each late element, for 24 h of allowed lateness; panes accumulate, so each
firing carries the window's full count so far and the sink keeps the latest one.
An event later than the allowed lateness still reaches silver; it only misses this
aggregate, and is counted as ``late_beyond_allowed`` so the gap is visible.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import Metrics
from apache_beam.pvalue import PCollection
from apache_beam.transforms import trigger, window
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import PaneInfoTiming

from pipeline.sinks.silver import silver_row
from pipeline.transforms.normalize import Envelope

TABLE = "event_counts_5m"
TOO_LATE = "too_late"


def count_key(envelope: Envelope, *, row: dict[str, Any] | None = None) -> tuple[str, str]:
    """(event_type, facility_id or ""): the facility of the event's silver row (the family's
    declared key column), so the counts and silver always agree. Pass ``row`` if already built."""
    silver = row if row is not None else silver_row(envelope)[1]
    return envelope["event_type"], silver.get("facility_id") or ""


def too_late(envelope: Envelope, *, allowed_lateness: dt.timedelta) -> bool:
    """Later than the windows still accept (it reaches silver, but not this aggregate)."""
    return bool(envelope["ingest_time"] - envelope["event_time"] > allowed_lateness)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)

# (window start in epoch microseconds, event_type, facility_id or ""): what a partial count
# counts. Plain ints and strings, so Beam can key a CombinePerKey by it deterministically.
WindowKey = tuple[int, str, str]


def window_start(event_time: dt.datetime, *, window_seconds: int) -> dt.datetime:
    """The start of the fixed window holding ``event_time`` (as Beam's FixedWindows, offset 0)."""
    micros = (event_time - _EPOCH) // _MICROSECOND
    return _EPOCH + dt.timedelta(microseconds=micros - micros % (window_seconds * 1_000_000))


def window_key(envelope: Envelope, *, window_seconds: int, row: dict[str, Any] | None = None) -> WindowKey:
    start = window_start(envelope["event_time"], window_seconds=window_seconds)
    return ((start - _EPOCH) // _MICROSECOND, *count_key(envelope, row=row))


# (events, id digest): a window's partial count and which events it counted.
PartialCount = tuple[int, int]
_DIGEST_MOD = 1 << 64


def id_digest(event_id: str) -> int:
    """A 64-bit hash of one event id; summed mod 2**64 it names a set of ids in any order or split."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def add_partials(partials: Iterable[PartialCount]) -> PartialCount:
    """Associative and commutative, so Beam may combine shards' partial counts in any order."""
    events, digest = 0, 0
    for count, ids in partials:
        events += count
        digest = (digest + ids) % _DIGEST_MOD
    return events, digest


def final_count_row(key: WindowKey, count: int, *, window_seconds: int) -> dict[str, Any]:
    """The row of a window counted over bounded input: its one pane, fired on time."""
    start_micros, event_type, facility = key
    start = _EPOCH + dt.timedelta(microseconds=start_micros)
    return {
        "window_start": start,
        "window_end": start + dt.timedelta(seconds=window_seconds),
        "event_type": event_type,
        "facility_id": facility or None,
        "event_count": count,
        "pane_index": 0,
        "pane_timing": PaneInfoTiming.to_string(PaneInfoTiming.ON_TIME),
        "computed_at": dt.datetime.now(dt.UTC),
    }


class _OnTimeOnlyDoFn(beam.DoFn):
    """Drops (and counts) events that arrive later than the windows still accept."""

    def __init__(self, allowed_lateness: dt.timedelta) -> None:
        self._allowed = allowed_lateness
        self._late = Metrics.counter("ledger", "late_beyond_allowed")

    def process(self, envelope: Envelope) -> Iterator[Any]:
        if too_late(envelope, allowed_lateness=self._allowed):
            self._late.inc()
            yield beam.pvalue.TaggedOutput(TOO_LATE, envelope)
            return
        yield envelope


class _ToRowDoFn(beam.DoFn):
    def process(
        self,
        keyed_count: tuple[tuple[str, str], int],
        win: Any = beam.DoFn.WindowParam,
        pane: Any = beam.DoFn.PaneInfoParam,
    ) -> Iterator[dict[str, Any]]:
        (event_type, facility), count = keyed_count
        yield {
            "window_start": _utc(win.start),
            "window_end": _utc(win.end),
            "event_type": event_type,
            "facility_id": facility or None,
            "event_count": count,
            "pane_index": pane.index,
            "pane_timing": PaneInfoTiming.to_string(pane.timing),
            "computed_at": dt.datetime.now(dt.UTC),
        }


def _utc(ts: Timestamp) -> dt.datetime:
    return ts.to_utc_datetime(has_tz=True)


class EventCounts5m(beam.PTransform):
    def __init__(
        self, *, window_seconds: int = 300, early_every_seconds: int = 60, allowed_lateness_hours: int = 24
    ) -> None:
        super().__init__()
        self._size = window_seconds
        self._early = early_every_seconds
        self._lateness = dt.timedelta(hours=allowed_lateness_hours)

    def expand(self, envelopes: PCollection) -> dict[str, PCollection]:
        """``rows``: one row per pane; ``too_late``: events the windows no longer accept."""
        split = envelopes | "OnTimeOnly" >> beam.ParDo(_OnTimeOnlyDoFn(self._lateness)).with_outputs(
            TOO_LATE, main="on_time"
        )
        # Early firings are a processing-time notion: a bounded run has no such clock (and
        # Beam's batch runner rejects the trigger, apache/beam#19070), so they apply to streams only.
        early = trigger.AfterProcessingTime(self._early) if not envelopes.is_bounded else None
        rows = (
            split.on_time
            | "EventTime" >> beam.Map(lambda e: window.TimestampedValue(e, e["event_time"].timestamp()))
            | "Window5m"
            >> beam.WindowInto(
                window.FixedWindows(self._size),
                trigger=trigger.AfterWatermark(early=early, late=trigger.AfterCount(1)),
                allowed_lateness=int(self._lateness.total_seconds()),
                accumulation_mode=trigger.AccumulationMode.ACCUMULATING,
            )
            | "Key" >> beam.Map(lambda e: (count_key(e), 1))
            | "Count" >> beam.CombinePerKey(sum)
            | "ToRow" >> beam.ParDo(_ToRowDoFn())
            # Rows join the global-window silver/DLQ rows downstream: leave the 5-minute windows.
            | "Rewindow" >> beam.WindowInto(window.GlobalWindows())
        )
        return {"rows": rows, TOO_LATE: split[TOO_LATE]}
