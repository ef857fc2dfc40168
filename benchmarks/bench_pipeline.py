"""bench-pipeline: the full local pipeline vs a plain Python loop and a naive Beam pipeline.

    .venv/bin/python -m benchmarks.bench_pipeline [--events 200000] [--naive-events 20000]

The pipeline and the loop do the same work per event (parse, normalize, validate against
the contract, dedupe by event_id, protect PII, build and enrich the silver row, write bronze
Avro and stage silver rows); the pipeline also computes the 5-minute counts and alerts.
The naive baseline (normalize, validate, per-element stateful dedupe, silver row) runs on
the local runner with default settings (the RUNBOOK state-cache trap); it is measured on a
smaller sample because it is that slow, and compared as a rate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.coders import BooleanCoder
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from logistics.settings import Settings, StorageSettings
from pipeline.dead_letter import DeadLetter
from pipeline.run import run_pipeline
from pipeline.sinks.bronze import write_avro
from pipeline.sinks.silver import silver_row, write_json_lines
from pipeline.sources.generator import generate_events, write_jsonl
from pipeline.transforms.enrich import DimensionSnapshot, enrich
from pipeline.transforms.normalize import normalize
from pipeline.transforms.pii import Tokenizer, protect_envelope
from pipeline.transforms.validate import validate


def make_input(events: int, path: Path) -> int:
    shipments = max(1, events // 9)  # the generator emits ~9 events per shipment
    batch = generate_events(shipments=shipments, seed=1)
    write_jsonl(batch, path)
    return batch.records


def plain_loop(path: Path) -> int:
    """The practical ceiling: the same per-event work in one process, no framework."""
    now = dt.datetime.now(dt.UTC)
    tokenizer = Tokenizer.from_base64(Tokenizer.generate_key())
    dims = DimensionSnapshot()
    seen: set[str] = set()
    unique: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            envelope = normalize(line, source_system="file", ingest_time=now)
            if isinstance(envelope, DeadLetter):
                continue
            checked = validate(envelope)
            if isinstance(checked, DeadLetter) or checked["event_id"] in seen:
                continue
            seen.add(checked["event_id"])
            protected = protect_envelope(checked, tokenizer=tokenizer)
            unique.append(protected)
            rows.append(enrich(silver_row(protected)[1], dims))
    write_avro(io.BytesIO(), unique)
    write_json_lines(io.BytesIO(), rows)
    return len(unique)


class _NaiveDedupe(beam.DoFn):
    SEEN = ReadModifyWriteStateSpec("seen", BooleanCoder())

    def process(self, keyed: tuple[str, Any], seen: Any = beam.DoFn.StateParam(SEEN)) -> Iterator[Any]:
        if not seen.read():
            seen.write(True)
            yield keyed[1]


def naive_beam(path: Path) -> None:
    """Per-element stateful dedupe with default runner settings (state cache sizing left on)."""
    now = dt.datetime.now(dt.UTC)
    with beam.Pipeline(options=PipelineOptions(runner="DirectRunner")) as p:
        (
            p
            | beam.io.ReadFromText(str(path))
            | beam.Map(lambda line: normalize(line, source_system="file", ingest_time=now))
            | beam.Filter(lambda e: not isinstance(e, DeadLetter))
            | beam.Map(validate)
            | beam.Filter(lambda e: not isinstance(e, DeadLetter))
            | beam.Map(lambda e: (e["event_id"], e)).with_output_types(tuple[str, Any])
            | beam.ParDo(_NaiveDedupe())
            | beam.Map(silver_row)
        )


def _timed(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--naive-events", type=int, default=20_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        root = Path(tmp)
        records = make_input(args.events, root / "events.jsonl")
        naive_records = make_input(args.naive_events, root / "naive.jsonl")

        loop_s = _timed(plain_loop, root / "events.jsonl")
        settings = Settings(storage=StorageSettings(data_dir=root / "data"))
        start = time.perf_counter()
        ledger = run_pipeline(settings=settings, input_pattern=str(root / "events.jsonl"))
        pipeline_s = time.perf_counter() - start
        naive_s = _timed(naive_beam, root / "naive.jsonl")

    loop_rate, pipeline_rate, naive_rate = records / loop_s, records / pipeline_s, naive_records / naive_s
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"events: {records:,} (naive baseline sample: {naive_records:,}); ledger balanced: {ledger.balanced}")
    print(f"plain Python loop       {loop_rate:>10,.0f} events/s  ({loop_s:.1f} s)")
    print(f"pipeline (local runner) {pipeline_rate:>10,.0f} events/s  ({pipeline_s:.1f} s, incl. bronze + silver load)")
    print(f"naive Beam (stateful)   {naive_rate:>10,.0f} events/s  ({naive_s:.1f} s)")
    print(f"pipeline / plain loop = {pipeline_rate / loop_rate:.2f}  (target >= 0.50)")
    print(f"pipeline / naive Beam = {pipeline_rate / naive_rate:.1f}x (target >= 20x)")
    print(f"peak RSS of this process: {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
