"""bench-generate: the network simulator against the cost of just writing its output.

    .venv/bin/python -m benchmarks.bench_generate [--events 1000000] [--days 10]

The simulator streams a realistic feed (journeys, drivers' pings, faults, ground truth) as JSON
lines. Baseline, in the same run: re-encoding the very same records (parse each line, encode it
again, write it): what any producer of this file pays at least. The ratio is what simulating
costs on top. Each runs in a fresh process; the simulator's peak RSS shows that it streams (it
grows with the shipments in flight, not with the run).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import orjson

from benchmarks._child import measured_in_child

PEAK_RSS_TARGET_MB = 300


def simulator(events: str, days: str, path: str, truth_path: str) -> dict[str, Any]:
    from pipeline.sources.simulator import config_for_events, simulate, write_jsonl

    config = config_for_events(int(events), days=int(days))
    truth = write_jsonl(simulate(config), Path(path), truth_path=Path(truth_path))
    return {"records": truth.records}


def reencode(path: str, out: str) -> dict[str, Any]:
    """The floor: every line parsed and encoded again (malformed lines copied as they are)."""
    records = 0
    with Path(path).open("rb") as source, Path(out).open("wb", buffering=1 << 20) as sink:
        for line in source:
            try:
                sink.write(orjson.dumps(orjson.loads(line)) + b"\n")
            except orjson.JSONDecodeError:
                sink.write(line)
            records += 1
    return {"records": records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        feed, truth, copy = Path(tmp) / "events.jsonl", Path(tmp) / "truth.json", Path(tmp) / "copy.jsonl"
        sim = measured_in_child(
            "benchmarks.bench_generate.simulator", str(args.events), str(args.days), str(feed), str(truth)
        )
        size_mb = feed.stat().st_size / 1e6
        floor = measured_in_child("benchmarks.bench_generate.reencode", str(feed), str(copy))
    records = sim["records"]
    sim_rate, floor_rate = records / sim["seconds"], records / floor["seconds"]
    print(f"records: {records:,} over {args.days} days ({size_mb:,.0f} MB of JSON lines)")
    print(f"simulator          {sim_rate:>10,.0f} records/s  ({sim['seconds']:.1f} s, {sim['cpu_seconds']:.1f} s CPU)")
    print(f"re-encode (floor)  {floor_rate:>10,.0f} records/s  ({floor['seconds']:.1f} s)")
    print(f"simulator / floor = {sim_rate / floor_rate:.2f}  (the share of its time that writing alone would take)")
    print(f"peak RSS of the simulator: {sim['peak_rss_mb']:,.0f} MB (target < {PEAK_RSS_TARGET_MB} MB: it streams)")


if __name__ == "__main__":
    main()
