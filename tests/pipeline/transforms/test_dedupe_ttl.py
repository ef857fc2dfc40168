"""The dedupe TTL rule: a copy within its contract's TTL *in event time* of a kept copy is a
duplicate; farther away, a new event. One rule in a batch, across runs, in the stream, and on a
rebuild from bronze."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import apache_beam as beam
import orjson
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_stream import TestStream as BeamTestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.generated.catalog import SUBJECTS
from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.replay import replay_bronze
from pipeline.run import run_pipeline
from pipeline.transforms.dedupe import (
    DEFAULT_TTL_HOURS,
    DUPLICATES,
    KeptCopies,
    is_duplicate,
    keep_first,
    ttl_hours,
    ttl_of,
)
from pipeline.transforms.dofns import DedupeByEventId

T0 = dt.datetime(2024, 1, 15, tzinfo=dt.UTC)


def _env(
    event_id: str, hours: float, event_type: str = "shipment.in_transit", *, ingest_hours: float | None = None
) -> dict:
    at = T0 + dt.timedelta(hours=hours)
    return {
        "event_id": event_id,
        "event_type": event_type,
        "event_time": at,
        "ingest_time": T0 + dt.timedelta(hours=hours if ingest_hours is None else ingest_hours),
        "payload": "{}",
        "source_system": "test",
    }


def test_ttl_comes_from_the_contract() -> None:
    assert ttl_of(_env("a", 0)) == dt.timedelta(hours=24)
    assert ttl_of(_env("a", 0, "driver.location_updated")) == dt.timedelta(hours=1)
    assert ttl_of(_env("a", 0, "facility.created")) == dt.timedelta(hours=168)


def test_bounded_rule_keeps_a_copy_again_after_the_ttl_in_event_time() -> None:
    kept, dups = keep_first([_env("a", 0), _env("a", 23), _env("a", 30), _env("a", 31)])
    assert [e["event_time"].hour for e in kept] == [0, 6]  # 0 h and 30 h (next day, 06:00)
    assert [e["event_time"].hour for e in dups] == [23, 7]


def test_the_rule_measures_event_time_not_arrival() -> None:
    # A producer retry of the same event, re-sent 30 h later: the same event, however late it came.
    kept, dups = keep_first([_env("a", 0), _env("a", 0, ingest_hours=30)])
    assert len(kept) == 1 and len(dups) == 1
    # Pings (TTL 1 h): the same id 90 minutes apart in event time is a new ping, whenever it arrives.
    kept, _ = keep_first(
        [_env("p", 0, "driver.location_updated"), _env("p", 1.5, "driver.location_updated", ingest_hours=0)]
    )
    assert len(kept) == 2


def test_the_first_copy_seen_is_the_one_kept() -> None:
    # 0 h is seen first; 20 h is within its TTL (dup); 40 h is 40 h from the kept 0 h copy (kept).
    kept, dups = keep_first([_env("a", 40, ingest_hours=2), _env("a", 20, ingest_hours=1), _env("a", 0)])
    assert [e["event_time"].hour for e in kept] == [0, 16]
    assert [e["event_time"].hour for e in dups] == [20]


def _line(envelope: dict) -> bytes:
    return orjson.dumps(
        {
            **envelope,
            "event_version": 1,
            "event_time": envelope["event_time"].isoformat(),
            "ingest_time": envelope["ingest_time"].isoformat(),
            "payload": {"shipment_id": "S", "facility_id": "F", "carrier_id": "C"},
        }
    )


def _silver(settings: Settings) -> list[tuple[str, dt.datetime]]:
    with connect(settings, read_only=True) as wh:
        rows = wh.query("SELECT event_id, event_time FROM clean.shipment_events ORDER BY event_id, event_time")
    return [(r["event_id"], r["event_time"]) for r in rows]


def test_one_batch_and_many_runs_decide_alike_and_a_rebuild_reproduces_silver(tmp_path: Path) -> None:
    copies = [
        _env("a", 0),
        _env("a", 0, ingest_hours=30),  # retry a day later: duplicate
        _env("b", 0),
        _env("b", 30, ingest_hours=30),  # same id, 30 h later in event time: a second event
        _env("c", 5),
    ]
    together = Settings.model_validate({"storage": {"data_dir": tmp_path / "one"}})
    (tmp_path / "all.jsonl").write_bytes(b"\n".join(map(_line, copies)) + b"\n")
    one = run_pipeline(settings=together, input_pattern=str(tmp_path / "all.jsonl"))
    assert one.balanced and one.silver_total == 4 and one.duplicates == 1

    apart = Settings.model_validate({"storage": {"data_dir": tmp_path / "many"}})
    for n, envelope in enumerate(copies):  # one event per run: every decision is a cross-run one
        (tmp_path / f"{n}.jsonl").write_bytes(_line(envelope) + b"\n")
        assert run_pipeline(settings=apart, input_pattern=str(tmp_path / f"{n}.jsonl")).balanced
    assert _silver(apart) == _silver(together)

    before = _silver(together)
    replay_bronze(settings=together, start=T0.date(), end=(T0 + dt.timedelta(days=2)).date(), rebuild=True)
    assert _silver(together) == before


def test_streaming_dedupe_applies_the_same_rule() -> None:
    base = T0.timestamp()
    stream = (
        BeamTestStream()
        .advance_watermark_to(base)
        .add_elements([TimestampedValue(_env("a", 0), base), TimestampedValue(_env("b", 0), base)])
        .advance_watermark_to(base + 3600)
        .add_elements([TimestampedValue(_env("a", 1), base + 3600)])  # inside 24 h: dropped
        .add_elements([TimestampedValue(_env("a", 0, ingest_hours=1), base + 3600)])  # a retry: dropped
        .advance_watermark_to(base + 25 * 3600)
        .add_elements([TimestampedValue(_env("a", 25), base + 25 * 3600)])  # 25 h from the kept copy: kept
        .add_elements([TimestampedValue(_env("p", 25, "driver.location_updated"), base + 25 * 3600)])
        .add_elements([TimestampedValue(_env("p", 25.5, "driver.location_updated"), base + 25 * 3600)])  # TTL 1 h
        .add_elements([TimestampedValue(_env("p", 26.5, "driver.location_updated"), base + 25 * 3600)])  # 1.5 h: new
        .advance_watermark_to_infinity()
    )
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with beam.Pipeline(options=options) as p:
        out = p | stream | DedupeByEventId()
        unique = out.unique | "Unique" >> beam.Map(lambda e: (e["event_id"], e["event_time"].day, e["event_time"].hour))
        dups = out[DUPLICATES] | "Dups" >> beam.Map(lambda e: (e["event_id"], e["event_time"].hour))
        assert_that(
            unique,
            equal_to([("a", 15, 0), ("b", 15, 0), ("a", 16, 1), ("p", 16, 1), ("p", 16, 2)]),
            label="unique",
        )
        assert_that(dups, equal_to([("a", 1), ("a", 0), ("p", 1)]), label="duplicates")


def test_streaming_state_is_forgotten_only_after_ttl_plus_allowed_lateness() -> None:
    base = T0.timestamp()
    stream = (
        BeamTestStream()
        .advance_watermark_to(base)
        .add_elements([TimestampedValue(_env("a", 0), base)])
        .advance_watermark_to(base + 47 * 3600)  # TTL 24 h + lateness 24 h not yet passed
        .add_elements([TimestampedValue(_env("a", 0, ingest_hours=47), base + 47 * 3600)])  # remembered: dropped
        .advance_watermark_to(base + 49 * 3600)  # past both: the id's state is gone
        .add_elements(
            [TimestampedValue(_env("a", 0, ingest_hours=49), base + 49 * 3600)]
        )  # kept (silver's load skips it)
        .advance_watermark_to_infinity()
    )
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with beam.Pipeline(options=options) as p:
        out = p | stream | DedupeByEventId()
        unique = out.unique | "Unique" >> beam.Map(lambda e: e["ingest_time"].hour)
        dups = out[DUPLICATES] | "Dups" >> beam.Map(lambda e: e["ingest_time"].hour)
        assert_that(unique, equal_to([0, 1]), label="unique")  # 0 h, then 49 h (01:00 two days on)
        assert_that(dups, equal_to([23]), label="duplicates")  # 47 h is 23:00 the next day


def test_ttl_of_every_contract_and_of_an_unknown_type_is_its_hours() -> None:
    for name, spec in SUBJECTS.items():
        assert (
            ttl_of(_env("a", 0, name))
            == dt.timedelta(hours=spec.dedupe_ttl_hours)
            == dt.timedelta(hours=ttl_hours(name))
        )
    assert ttl_of(_env("a", 0, "shipment.teleported")) == dt.timedelta(hours=DEFAULT_TTL_HOURS)


def test_is_duplicate_reads_any_iterable_of_kept_times_and_measures_both_ways() -> None:
    copy = _env("a", 10)
    assert not is_duplicate(copy, [])
    assert not is_duplicate(copy, iter(()))
    assert is_duplicate(copy, (T0 + dt.timedelta(hours=h) for h in (-30, 33.5)))  # 23.5 h after 10 h: within
    assert not is_duplicate(copy, [T0 + dt.timedelta(hours=h) for h in (-14, 34)])  # exactly 24 h: a new event
    assert is_duplicate(copy, [T0 - dt.timedelta(hours=13, minutes=59)])


_EVENT_TYPES = st.sampled_from(["driver.location_updated", "shipment.in_transit", "facility.created", "unknown.type"])


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 400), _EVENT_TYPES), max_size=40))
@settings(max_examples=400, deadline=None)
def test_kept_copies_decides_as_the_rule_over_a_stream_seen_in_order(copies: list[tuple[str, int, str]]) -> None:
    """KeptCopies (the one-process loop's state) against the rule spelt out: a list of kept times per id."""
    kept_copies = KeptCopies()
    kept_times: dict[str, list[dt.datetime]] = {}
    for event_id, hours, event_type in copies:
        envelope = _env(event_id, hours, event_type)
        expected = not is_duplicate(envelope, kept_times.get(event_id, []))
        if expected:
            kept_times.setdefault(event_id, []).append(envelope["event_time"])
        assert kept_copies.keep(envelope) is expected
