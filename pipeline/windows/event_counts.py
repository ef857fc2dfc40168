"""event_counts_5m: events per (type, facility) in 5-minute event-time windows, near real time.

One row per (window, event type, facility), named by :func:`count_id`; writes are upserts
where the latest count wins (``computed_at``). Two writers, one table:

- the stream (:class:`EventCounts5m`): FixedWindows(300 s) fire early every 60 s of processing
  time, on time at the watermark, and again for each late element, for 24 h of allowed
  lateness; panes accumulate, so each firing carries the window's full count so far. An event
  later than the allowed lateness still reaches silver; it only misses this aggregate, and is
  counted as ``late_beyond_allowed`` so the gap is visible.
- bounded runs (files, micro-batches, replays): after their silver load, the windows they
  touched are recounted from silver (:func:`recount_windows`). That is exact whatever the
  batching: each event_id counts once, a rerun or a redelivered batch changes nothing, and a
  late event that the stream no longer accepts is counted by the next bounded run over it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import Metrics
from apache_beam.pvalue import PCollection
from apache_beam.transforms import trigger, window
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import PaneInfoTiming

from contracts.generated.catalog import FAMILIES
from logistics.warehouse import Warehouse
from pipeline.transforms.normalize import Envelope
from pipeline.transforms.stage import silver_row

TABLE = "event_counts_5m"
TOO_LATE = "too_late"
RECOUNT = "SILVER"  # pane_timing of a window recounted from silver by a bounded run

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def count_key(envelope: Envelope, *, row: dict[str, Any] | None = None) -> tuple[str, str]:
    """(event_type, facility_id or ""): the facility of the event's silver row (the family's
    declared key column), so the counts and silver always agree. Pass ``row`` if already built."""
    silver = row if row is not None else silver_row(envelope)[1]
    return envelope["event_type"], silver.get("facility_id") or ""


def too_late(envelope: Envelope, *, allowed_lateness: dt.timedelta) -> bool:
    """Later than the stream's windows still accept (it reaches silver, but not the stream's count)."""
    return bool(envelope["ingest_time"] - envelope["event_time"] > allowed_lateness)


def window_start(event_time: dt.datetime, *, window_seconds: int) -> dt.datetime:
    """The start of the fixed window holding ``event_time`` (as Beam's FixedWindows, offset 0)."""
    micros = (event_time - _EPOCH) // _MICROSECOND
    return _EPOCH + dt.timedelta(microseconds=micros - micros % (window_seconds * 1_000_000))


def count_id(start: dt.datetime, event_type: str, facility_id: str | None) -> str:
    """The row's name: one row per (window, event type, facility), whoever counted it (the
    stream, a recount on DuckDB or on BigQuery): the start is named by its UTC wall-clock text,
    whether it came with a zone (the stream's, BigQuery's) or without one (DuckDB's)."""
    key = f"{_start_text(start)}|{event_type}|{facility_id or ''}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


# A tz-aware datetime's conversion and isoformat cost microseconds each, and a window start
# recurs for every (type, facility) counted in it, so each start's text is worked out once.
@functools.lru_cache(maxsize=4096)
def _start_text(start: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]`` in UTC, no offset (a zone-less start is UTC already)."""
    if start.tzinfo is not None:
        start = start.astimezone(dt.UTC).replace(tzinfo=None)
    return start.isoformat()


@functools.lru_cache(maxsize=4096)
def _window_end(start: dt.datetime, window_seconds: int) -> dt.datetime:
    return start + dt.timedelta(seconds=window_seconds)


def count_row(
    *,
    start: dt.datetime,
    window_seconds: int,
    event_type: str,
    facility_id: str | None,
    event_count: int,
    pane_index: int,
    pane_timing: str,
) -> dict[str, Any]:
    return {
        "window_start": start,
        "window_end": _window_end(start, window_seconds),
        "event_type": event_type,
        "facility_id": facility_id or None,
        "event_count": event_count,
        "pane_index": pane_index,
        "pane_timing": pane_timing,
        "count_id": count_id(start, event_type, facility_id),
        "computed_at": dt.datetime.now(dt.UTC),
    }


# ---------------------------------------------------------------------------- bounded: recount


def _recount_sql() -> str:
    """Events per window, type and facility over every silver table, for the given windows only."""
    parts = [
        f"SELECT event_time, event_type, {'facility_id' if 'facility_id' in family.key_columns else 'NULL'} "
        f"AS facility_id FROM clean.{family.silver_table} WHERE event_time >= @first AND event_time < @last"
        for family in FAMILIES.values()
    ]
    union = "\n      UNION ALL ".join(parts)
    # Rows are grouped by their window's number and only the groups are turned into window starts
    # and matched against @windows: the same groups as filtering each row first (a window is a
    # group key), with one timestamp and one membership test per group instead of per row.
    return f"""
SELECT TIMESTAMP_MICROS(window_number * @window_micros) AS window_start, event_type, facility_id, event_count
FROM (
  SELECT window_number, event_type, facility_id, COUNT(*) AS event_count
  FROM (
    SELECT DIV(UNIX_MICROS(event_time), @window_micros) AS window_number, event_type, facility_id
    FROM (
      {union}
    )
  )
  GROUP BY window_number, event_type, facility_id
)
WHERE TIMESTAMP_MICROS(window_number * @window_micros) IN UNNEST(@windows)
"""


def _recounted_rows_sql() -> str:
    """The recount as event_counts_5m rows, made where silver is (no row travels through Python):
    the columns :func:`count_row` fills, ``count_id`` hashed as :func:`count_id` hashes."""
    return f"""
SELECT window_start,
       TIMESTAMP_ADD(window_start, INTERVAL @window_seconds SECOND) AS window_end,
       event_type,
       NULLIF(facility_id, '') AS facility_id,
       event_count,
       0 AS pane_index,
       @pane_timing AS pane_timing,
       SUBSTR(TO_HEX(SHA256(CONCAT(
         FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%S', window_start), '|', event_type, '|', IFNULL(facility_id, '')
       ))), 1, 32) AS count_id,
       CURRENT_TIMESTAMP() AS computed_at
FROM ({_recount_sql()})
"""


def recount_windows(warehouse: Warehouse, starts: Iterable[dt.datetime], *, window_seconds: int) -> int:
    """Recount the given windows from silver and upsert their rows; returns the rows written."""
    from logistics.warehouse import event_counts_table

    windows = sorted(set(starts))
    if not windows:
        return 0
    params = {
        "first": windows[0],
        "last": windows[-1] + dt.timedelta(seconds=window_seconds),
        "window_micros": window_seconds * 1_000_000,
        "windows": windows,
        "window_seconds": window_seconds,
        "pane_timing": RECOUNT,
    }
    return warehouse.merge_query(event_counts_table(), _recounted_rows_sql(), params)[0]


# ---------------------------------------------------------------------------- unbounded: Beam windows


class _CountableDoFn(beam.DoFn):
    """Envelope -> ``(count key, 1)`` stamped with its event time; later than the windows still
    accept -> ``TOO_LATE`` (and counted), so the gap is visible. One step, not three: on the local
    streaming runner every step an event passes costs more than the step's own work."""

    def __init__(self, allowed_lateness: dt.timedelta) -> None:
        self._allowed = allowed_lateness
        self._late = Metrics.counter("ledger", "late_beyond_allowed")

    def process(self, envelope: Envelope) -> Iterator[Any]:
        if too_late(envelope, allowed_lateness=self._allowed):
            self._late.inc()
            yield beam.pvalue.TaggedOutput(TOO_LATE, envelope)
            return
        yield window.TimestampedValue((count_key(envelope), 1), envelope["event_time"].timestamp())


class _ToRowDoFn(beam.DoFn):
    def process(
        self,
        keyed_count: tuple[tuple[str, str], int],
        win: Any = beam.DoFn.WindowParam,
        pane: Any = beam.DoFn.PaneInfoParam,
    ) -> Iterator[dict[str, Any]]:
        (event_type, facility), count = keyed_count
        start, end = _utc(win.start), _utc(win.end)
        yield count_row(
            start=start,
            window_seconds=int((end - start).total_seconds()),
            event_type=event_type,
            facility_id=facility,
            event_count=count,
            pane_index=pane.index,
            pane_timing=PaneInfoTiming.to_string(pane.timing),
        )


def _utc(ts: Timestamp) -> dt.datetime:
    return ts.to_utc_datetime(has_tz=True)


class EventCounts5m(beam.PTransform):
    """Envelopes of a stream -> ``rows`` (one per pane, the window's full count so far) and
    ``too_late`` (events the windows no longer accept)."""

    def __init__(
        self, *, window_seconds: int = 300, early_every_seconds: int = 60, allowed_lateness_hours: int = 24
    ) -> None:
        super().__init__()
        self._size = window_seconds
        self._early = early_every_seconds
        self._lateness = dt.timedelta(hours=allowed_lateness_hours)

    def expand(self, envelopes: PCollection) -> dict[str, PCollection]:
        split = envelopes | "Countable" >> beam.ParDo(_CountableDoFn(self._lateness)).with_outputs(
            TOO_LATE, main="on_time"
        )
        rows = (
            split.on_time
            | "Window5m"
            >> beam.WindowInto(
                window.FixedWindows(self._size),
                trigger=trigger.AfterWatermark(
                    early=trigger.AfterProcessingTime(self._early), late=trigger.AfterCount(1)
                ),
                allowed_lateness=int(self._lateness.total_seconds()),
                accumulation_mode=trigger.AccumulationMode.ACCUMULATING,
            )
            | "Count" >> beam.CombinePerKey(sum)
            | "ToRow" >> beam.ParDo(_ToRowDoFn())
            # Rows join the sinks' global window downstream: leave the 5-minute windows.
            | "Rewindow" >> beam.WindowInto(window.GlobalWindows())
        )
        return {"rows": rows, TOO_LATE: split[TOO_LATE]}
