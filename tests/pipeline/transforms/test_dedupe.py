from __future__ import annotations

import datetime as dt
from pathlib import Path

import apache_beam as beam
import orjson
from apache_beam.testing.util import assert_that, equal_to

from pipeline.transforms.dedupe import DUPLICATES, first_copies, keep_first
from pipeline.transforms.dofns import DedupeByEventId

T0 = dt.datetime(2024, 1, 15, tzinfo=dt.UTC)


def _env(event_id: str, minutes: int, payload: str = "{}", *, event_minutes: int = 0) -> dict:
    """A complete envelope (the bounded dedupe ships envelopes through the generated Avro coder)."""
    return {
        "event_id": event_id,
        "event_type": "shipment.in_transit",
        "event_version": 1,
        "event_time": T0 + dt.timedelta(minutes=event_minutes),
        "ingest_time": T0 + dt.timedelta(minutes=minutes),
        "source_system": "test",
        "trace_id": None,
        "payload": payload,
    }


def test_keep_first_prefers_earliest_ingest_and_returns_the_rest() -> None:
    kept, extra = keep_first([_env("a", 5), _env("a", 1), _env("a", 3)])
    assert [k["ingest_time"] for k in kept] == [T0 + dt.timedelta(minutes=1)]
    assert sorted(e["ingest_time"].minute for e in extra) == [3, 5]


def test_dedupe_transform_splits_unique_and_duplicates(tmp_path: Path) -> None:
    # Inputs come from a file, not beam.Create, to keep the test representative (docs/local-components.md).
    source = tmp_path / "ids.jsonl"
    ids = ["a", "b", "a", "c", "a", "b"]
    source.write_text("\n".join(orjson.dumps({"id": i, "n": n}).decode() for n, i in enumerate(ids)))
    with beam.Pipeline() as p:
        envelopes = (
            p
            | beam.io.ReadFromText(str(source))
            | beam.Map(lambda line: orjson.loads(line))
            | beam.Map(lambda r: _env(r["id"], r["n"]))
        )
        out = envelopes | DedupeByEventId()
        assert_that(
            out.unique | "UniqueIds" >> beam.Map(lambda e: e["event_id"]), equal_to(["a", "b", "c"]), label="unique"
        )
        assert_that(
            out[DUPLICATES] | "DupIds" >> beam.Map(lambda e: e["event_id"]),
            equal_to(["a", "a", "b"]),
            label="duplicates",
        )


def test_first_copies_decides_exactly_as_keep_first_per_id() -> None:
    # Copies of "a" 30 min apart (TTL 24 h: one kept), "b" once, "c" 25 h apart in event time (both kept).
    envelopes = [
        _env("a", 30),
        _env("b", 0),
        _env("a", 0),
        _env("c", 0),
        _env("c", 25 * 60, event_minutes=25 * 60),
        _env("a", 60),
    ]
    decided = list(first_copies(lambda: iter(envelopes), event_ids=(e["event_id"] for e in envelopes)))

    assert len(decided) == len(envelopes)  # every envelope is decided once
    kept = sorted((e["event_id"], e["ingest_time"]) for k, e in decided if k)
    expected = sorted(
        (e["event_id"], e["ingest_time"])
        for event_id in ("a", "b", "c")
        for e in keep_first([x for x in envelopes if x["event_id"] == event_id])[0]
    )
    assert kept == expected == [("a", T0), ("b", T0), ("c", T0), ("c", T0 + dt.timedelta(hours=25))]
