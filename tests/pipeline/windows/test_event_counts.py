"""Streaming semantics of event_counts_5m under TestStream: early, on-time, late, too late."""

from __future__ import annotations

import datetime as dt
import hashlib

import apache_beam as beam
import orjson
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream as BeamTestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from pipeline.windows.event_counts import TOO_LATE, EventCounts5m, count_id, count_key, count_row

T0 = dt.datetime(2024, 1, 15, 10, 0, tzinfo=dt.UTC)
BASE = T0.timestamp()


def _scan(n: int, at_minute: float, *, ingest_hours_later: float = 0.0) -> TimestampedValue:
    event_time = T0 + dt.timedelta(minutes=at_minute)
    envelope = {
        "event_id": f"e-{n}",
        "event_type": "shipment.in_transit",
        "event_time": event_time,
        "ingest_time": event_time + dt.timedelta(hours=ingest_hours_later),
        "payload": orjson.dumps({"shipment_id": "S", "facility_id": "FAC-1", "carrier_id": "C"}).decode(),
    }
    return TimestampedValue(envelope, event_time.timestamp())


def test_count_key_uses_the_family_facility_column() -> None:
    created = {
        "event_type": "shipment.created",
        "payload": orjson.dumps({"origin_facility_id": "FAC-CHI", "shipment_id": "S"}).decode(),
    }
    assert count_key(created) == ("shipment.created", "FAC-CHI")
    ping = {"event_type": "driver.location_updated", "payload": orjson.dumps({"driver_id": "D"}).decode()}
    assert count_key(ping) == ("driver.location_updated", "")


def test_early_on_time_and_late_panes_accumulate_and_too_late_is_dropped() -> None:
    stream = (
        BeamTestStream()
        .advance_watermark_to(BASE)
        .add_elements([_scan(1, 1), _scan(2, 2)])
        .advance_processing_time(61)  # early firing: 2 so far
        .add_elements([_scan(3, 3)])
        .advance_watermark_to(BASE + 300)  # on time: 3
        .add_elements([_scan(4, 4)])  # late but within allowed lateness: accumulates to 4
        .advance_watermark_to(BASE + 300 + 25 * 3600)  # the window is now closed for good
        .add_elements([_scan(5, 4, ingest_hours_later=25)])  # beyond allowed lateness
        .advance_watermark_to_infinity()
    )
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with beam.Pipeline(options=options) as p:
        counts = p | stream | EventCounts5m()
        panes = counts["rows"] | beam.Map(lambda r: (r["pane_timing"], r["event_count"], r["window_start"].minute))
        assert_that(panes, equal_to([("EARLY", 2, 0), ("ON_TIME", 3, 0), ("LATE", 4, 0)]), label="panes")
        too_late = counts[TOO_LATE] | beam.Map(lambda e: e["event_id"])
        assert_that(too_late, equal_to(["e-5"]), label="too_late")


def test_count_id_names_a_window_alike_with_or_without_a_zone() -> None:
    # The stream counts with aware starts, a DuckDB recount reads naive UTC ones, a BigQuery
    # recount aware ones: all three must name the same window's row alike, or it is counted twice.
    naive = T0.replace(tzinfo=None)
    elsewhere = T0.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    text = f"{naive.isoformat()}|shipment.in_transit|FAC-1"
    for start in (T0, naive, elsewhere, T0, naive):  # worked out once per start (cached): repeats agree
        assert count_id(start, "shipment.in_transit", "FAC-1") == hashlib.sha256(text.encode()).hexdigest()[:32]
    assert count_id(T0, "driver.created", None) == count_id(T0, "driver.created", "")


def test_count_row_ends_each_window_by_its_own_width() -> None:
    def row(width: int) -> dict[str, object]:
        return count_row(
            start=T0,
            window_seconds=width,
            event_type="shipment.in_transit",
            facility_id="",
            event_count=2,
            pane_index=0,
            pane_timing="SILVER",
        )

    # the same start with two widths: two ends (the cache is keyed by both)
    assert row(300)["window_end"] == T0 + dt.timedelta(minutes=5)
    assert row(60)["window_end"] == T0 + dt.timedelta(minutes=1)
    assert row(300)["facility_id"] is None
