"""bench-pipeline: the full local pipeline vs a plain Python loop and a naive Beam pipeline.

    .venv/bin/python -m benchmarks.bench_pipeline [--events 200000] [--naive-events 5000]
    .venv/bin/python -m benchmarks.bench_pipeline --events 1000000 --skip-loop   # the memory check

Input: the network simulator's feed, faults included. The pipeline and the loop do the same
work (parse, normalize, validate against the contract, dedupe by event_id, protect PII, build
and enrich the silver row, count 5-minute windows, pick alerts; bronze Avro per event hour,
staged silver and DLQ rows, one load into DuckDB).
The naive baseline (normalize, validate, per-element stateful dedupe, silver row) runs on
the local runner with default settings (the state-cache trap of docs/local-components.md); it is measured on a
smaller sample because it is that slow, and compared as a rate. Each contender runs in a
fresh process, the naive one first: the pipeline sets Beam's state-cache size process-wide
(the fix in docs/local-components.md), which would otherwise leak into the "default settings" baseline. The
pipeline's peak RSS is its own process's, input generation excluded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.coders import BooleanCoder
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from benchmarks._child import measured_in_child
from logistics.settings import Settings, StorageSettings
from logistics.warehouse import connect
from pipeline.dead_letter import DeadLetter
from pipeline.run import run_pipeline
from pipeline.sinks.bronze import hour_of, write_avro, write_bronze_file
from pipeline.sinks.silver import StagedTables, dlq_row, load_staged
from pipeline.sources.simulator import config_for_events, simulate, write_jsonl
from pipeline.transforms.check import check
from pipeline.transforms.enrich import DimensionSnapshot
from pipeline.transforms.normalize import normalize
from pipeline.transforms.pii import Tokenizer, protect_dead_letter
from pipeline.transforms.stage import silver_row, stage_event
from pipeline.transforms.validate import validate


def make_input(events: int, path: Path) -> int:
    """About ``events`` records of the network simulator in ``path``, faults included; the record count.

    A realistic spread in time (a day of bookings per ~150k records, their journeys over the
    following days) matters: bronze is one file per event hour, so a feed spread thin over
    months would measure file creation instead of event processing.
    """
    config = config_for_events(events, seed=1, days=max(1, round(events / 150_000)))
    return write_jsonl(simulate(config), path).records


def plain_loop(path: Path, data_dir: Path) -> int:
    """The practical ceiling: the pipeline's work in one process, no framework — the same pure
    functions per event (PII, enrichment and alerts through ``stage_event``), then the same
    outputs: bronze Avro per event hour, staged silver + DLQ rows with their 5-minute windows,
    and the same single-writer load and recount."""
    settings = Settings(storage=StorageSettings(data_dir=data_dir))
    now = dt.datetime.now(dt.UTC)
    tokenizer = Tokenizer.from_base64(Tokenizer.generate_key())
    dims = DimensionSnapshot()
    seen: set[str] = set()
    hours: dict[dt.datetime, list[dict[str, Any]]] = defaultdict(list)
    staging = f"{settings.storage.staging}/loop"
    staged = StagedTables(staging_dir=staging, name="loop", window_seconds=300)
    alerts: list[dict[str, Any]] = []
    alert_types = frozenset(settings.pipeline.alert_event_types)
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            checked = check(line, source_system="file", ingest_time=now)
            if isinstance(checked, DeadLetter):
                staged.add(*dlq_row(protect_dead_letter(checked, tokenizer=tokenizer)))
                continue
            if checked["event_id"] in seen:
                continue
            seen.add(checked["event_id"])
            event = stage_event(checked, tokenizer=tokenizer, dims=dims, alert_event_types=alert_types)
            hours[hour_of(event.protected)].append(event.protected)
            staged.add(event.table, event.row)
            if event.alert is not None:
                alerts.append(event.alert)
    staged.close()
    for hour, envelopes in hours.items():
        buffer = io.BytesIO()
        write_avro(buffer, envelopes)
        write_bronze_file(settings.storage.bronze, hour, run_id="loop", part="00000", data=buffer.getvalue())
    with connect(settings) as warehouse:
        load_staged(warehouse, staging, window_seconds=300)
    return len(seen) + len(alerts)


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


def contender(kind: str, input_path: str, data_dir: str) -> dict[str, Any]:
    """Run one contender (``in_child`` measures its time and peak RSS); the pipeline's ledger."""
    path, data = Path(input_path), Path(data_dir)
    if kind == "loop":
        plain_loop(path, data)
    elif kind == "naive":
        naive_beam(path)
    else:
        ledger = run_pipeline(settings=Settings(storage=StorageSettings(data_dir=data)), input_pattern=str(path))
        return {"balanced": ledger.balanced, "received": ledger.received}
    return {}


def in_child(kind: str, path: Path, data_dir: Path) -> dict[str, Any]:
    return measured_in_child("benchmarks.bench_pipeline.contender", kind, str(path), str(data_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--naive-events", type=int, default=5_000)
    parser.add_argument(
        "--skip-loop", action="store_true", help="only the pipeline (and naive) runs, e.g. for --events 1000000"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        root = Path(tmp)
        records = make_input(args.events, root / "events.jsonl")
        naive_records = make_input(args.naive_events, root / "naive.jsonl")
        # Each contender in its own process, naive first: nothing it measures is touched by another.
        naive = in_child("naive", root / "naive.jsonl", root / "naive-data")
        loop = None if args.skip_loop else in_child("loop", root / "events.jsonl", root / "loop-data")
        pipeline = in_child("pipeline", root / "events.jsonl", root / "data")

    pipeline_rate, naive_rate = records / pipeline["seconds"], naive_records / naive["seconds"]
    print(f"events: {records:,} (naive baseline sample: {naive_records:,}); ledger balanced: {pipeline['balanced']}")
    if loop is not None:
        print(f"plain Python loop       {records / loop['seconds']:>10,.0f} events/s  ({loop['seconds']:.1f} s)")
    print(
        f"pipeline (local runner) {pipeline_rate:>10,.0f} events/s  "
        f"({pipeline['seconds']:.1f} s, incl. Beam start-up and the silver load)"
    )
    print(f"naive Beam (stateful)   {naive_rate:>10,.0f} events/s  ({naive['seconds']:.1f} s, default runner settings)")
    if loop is not None:
        print(f"pipeline / plain loop = {pipeline_rate / (records / loop['seconds']):.2f}  (target >= 0.60)")
    print(f"pipeline / naive Beam = {pipeline_rate / naive_rate:.1f}x (target >= 20x)")
    peak = pipeline["peak_rss_mb"]
    print(f"peak RSS of the pipeline process: {peak:,.0f} MB (target < 2,048 MB at 1M events)")


if __name__ == "__main__":
    main()
