"""Dedupe TTL: a duplicate inside the contract's TTL is dropped, one after it is kept."""

from __future__ import annotations

import datetime as dt

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream as BeamTestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from pipeline.transforms.dedupe import DUPLICATES, DedupeByEventId, keep_first, ttl_of

T0 = dt.datetime(2024, 1, 15, tzinfo=dt.UTC)


def _env(event_id: str, hours: float, event_type: str = "shipment.in_transit") -> dict:
    at = T0 + dt.timedelta(hours=hours)
    return {
        "event_id": event_id,
        "event_type": event_type,
        "event_time": at,
        "ingest_time": at,
        "payload": "{}",
        "source_system": "test",
    }


def test_ttl_comes_from_the_contract() -> None:
    assert ttl_of(_env("a", 0)) == dt.timedelta(hours=24)
    assert ttl_of(_env("a", 0, "driver.location_updated")) == dt.timedelta(hours=1)
    assert ttl_of(_env("a", 0, "facility.created")) == dt.timedelta(hours=168)


def test_bounded_rule_keeps_a_copy_again_after_the_ttl() -> None:
    kept, dups = keep_first([_env("a", 0), _env("a", 23), _env("a", 30), _env("a", 31)])
    assert [e["ingest_time"].hour for e in kept] == [0, 6]  # 0 h and 30 h (next day, 06:00)
    assert [e["ingest_time"].hour for e in dups] == [23, 7]


def test_streaming_dedupe_forgets_ids_after_the_ttl_in_event_time() -> None:
    base = T0.timestamp()
    stream = (
        BeamTestStream()
        .advance_watermark_to(base)
        .add_elements([TimestampedValue(_env("a", 0), base), TimestampedValue(_env("b", 0), base)])
        .advance_watermark_to(base + 3600)
        .add_elements([TimestampedValue(_env("a", 1), base + 3600)])  # inside 24 h: dropped
        .advance_watermark_to(base + 25 * 3600)  # TTL passed: the id is forgotten
        .add_elements([TimestampedValue(_env("a", 25), base + 25 * 3600)])  # kept
        .advance_watermark_to_infinity()
    )
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with beam.Pipeline(options=options) as p:
        out = p | stream | DedupeByEventId()
        unique = out.unique | "Unique" >> beam.Map(lambda e: (e["event_id"], e["ingest_time"].day))
        dups = out[DUPLICATES] | "Dups" >> beam.Map(lambda e: (e["event_id"], e["ingest_time"].hour))
        assert_that(unique, equal_to([("a", 15), ("b", 15), ("a", 16)]), label="unique")
        assert_that(dups, equal_to([("a", 1)]), label="duplicates")
