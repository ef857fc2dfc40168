"""bench-pipeline: the full local pipeline vs a plain Python loop and a naive Beam pipeline.

    .venv/bin/python -m benchmarks.bench_pipeline [--events 200000] [--naive-events 5000]
    .venv/bin/python -m benchmarks.bench_pipeline --events 1000000 --skip-loop   # the memory check

The pipeline and the loop do the same work per event (parse, normalize, validate against
the contract, dedupe by event_id, protect PII, build and enrich the silver row, write bronze
Avro and stage silver rows); the pipeline also computes the 5-minute counts and alerts.
The naive baseline (normalize, validate, per-element stateful dedupe, silver row) runs on
the local runner with default settings (the RUNBOOK state-cache trap); it is measured on a
smaller sample because it is that slow, and compared as a rate. Each contender runs in a
fresh process, the naive one first: the pipeline sets Beam's state-cache size process-wide
(the RUNBOOK fix), which would otherwise leak into the "default settings" baseline. The
pipeline's peak RSS is its own process's, input generation excluded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import orjson
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


def make_input(events: int, path: Path, *, base_events: int = 200_000) -> int:
    """At least ``events`` generated records in ``path`` (JSON lines); returns the record count.

    Up to ``base_events`` come from the generator; beyond that the generated file is
    repeated with rewritten event ids (copy ``k`` appends ``~k``), which is cheap and keeps
    the mix of event types, duplicates and malformed lines of the base.
    """
    shipments = max(1, min(events, base_events) // 9)  # the generator emits ~9 events per shipment
    batch = generate_events(shipments=shipments, seed=1)
    write_jsonl(batch, path)
    if batch.records >= events:
        return batch.records
    base = path.read_bytes().splitlines()
    written = len(base)
    with path.open("ab") as out:
        copy = 0
        while written < events:
            copy += 1
            for line in base:
                out.write(_with_new_id(line, copy) + b"\n")
            written += len(base)
    return written


def _with_new_id(line: bytes, copy: int) -> bytes:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line  # a malformed line stays malformed (its DLQ row is the same: loaded once)
    if isinstance(record, dict) and isinstance(record.get("event_id"), str):
        record["event_id"] = f"{record['event_id']}~{copy}"
    return orjson.dumps(record)


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


def _measure(kind: str, path: Path, data_dir: Path) -> dict[str, Any]:
    """Run one contender in this process; its wall time, records, peak RSS and (pipeline) ledger."""
    start = time.perf_counter()
    result: dict[str, Any] = {}
    if kind == "loop":
        plain_loop(path)
    elif kind == "naive":
        naive_beam(path)
    else:
        ledger = run_pipeline(settings=Settings(storage=StorageSettings(data_dir=data_dir)), input_pattern=str(path))
        result = {"balanced": ledger.balanced, "received": ledger.received}
    result["seconds"] = time.perf_counter() - start
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def in_child(kind: str, path: Path, data_dir: Path) -> dict[str, Any]:
    """:func:`_measure` in a fresh interpreter: no state left by another contender (the pipeline
    sets Beam's state-cache size globally), and the peak RSS is that contender's alone."""
    code = (
        "import json, sys; from pathlib import Path; from benchmarks.bench_pipeline import _measure; "
        "print(json.dumps(_measure(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-c", code, kind, str(path), str(data_dir)],
        env=env,
        cwd=_ROOT,
        check=True,
        stdout=subprocess.PIPE,
    )
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


_ROOT = Path(__file__).resolve().parents[1]


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
        print(f"pipeline / plain loop = {pipeline_rate / (records / loop['seconds']):.2f}  (target >= 0.50)")
    print(f"pipeline / naive Beam = {pipeline_rate / naive_rate:.1f}x (target >= 20x)")
    peak = pipeline["peak_rss_mb"]
    print(f"peak RSS of the pipeline process: {peak:,.0f} MB (target < 2,048 MB at 1M events)")


if __name__ == "__main__":
    main()
