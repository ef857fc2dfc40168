"""bench-generate: the network simulator against the cost of just writing its output.

    .venv/bin/python -m benchmarks.bench_generate [--events 1000000] [--days 10] [--publish-rate 400]

The simulator streams a realistic feed (journeys, drivers' pings, faults, ground truth) as JSON
lines. Baseline, in the same run: re-encoding the very same records (parse each line, encode it
again, write it): what any producer of this file pays at least. The ratio is what simulating
costs on top. Each runs in a fresh process; the simulator's peak RSS shows that it streams (it
grows with the shipments in flight, not with the run).

Publishing: ``generate --to kafka --rate N`` paces its sends (``pipeline.publish.Pacer``). Here
the simulation is published to a Tansu broker at ``--publish-rate`` and the broker's timestamps say
whether it kept up (target: within 10% of the asked rate; the tests only hold that it never runs
faster than asked).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import orjson

from benchmarks._child import measured_in_child

PEAK_RSS_TARGET_MB = 300
KEEPS_UP = 0.9  # the achieved publish rate, as a share of the asked one


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


def publish_pacing(*, rate: float, shipments: int) -> tuple[int, float] | str:
    """(messages, seconds between the first and last broker timestamp), or why it was not measured."""
    import os
    import uuid

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from logistics.local import ComponentMissing
    from logistics.local.kafka import kafka_broker
    from pipeline.sources.simulator import SimulationConfig, simulate

    topic = f"bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as logs:
        try:
            with kafka_broker(log_dir=Path(logs), topics=[topic]) as broker:
                os.environ["LOGISTICS_KAFKA__BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
                from pipeline.publish import publish_lines

                lines = (line.encode() for line in simulate(SimulationConfig(shipments=shipments, seed=5)))
                sent = sum(publish_lines(lines, to="kafka", topic=topic, rate=rate).values())
                reader = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": f"r-{topic}"})
                partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
                reader.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
                stamps: list[int] = []
                while len(stamps) < sent:
                    batch = reader.consume(num_messages=1000, timeout=5)
                    if not batch:
                        return f"PUBLISHING NOT MEASURED: read back {len(stamps)} of {sent} messages"
                    stamps.extend(message.timestamp()[1] for message in batch)
                reader.close()
        except ComponentMissing as missing:
            return f"PUBLISHING NOT MEASURED: {missing}"
    return sent, (max(stamps) - min(stamps)) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--publish-rate", type=float, default=400.0, help="messages/s asked of the publisher")
    parser.add_argument("--publish-shipments", type=int, default=60, help="the simulation published (~900 records)")
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
    pacing = publish_pacing(rate=args.publish_rate, shipments=args.publish_shipments)
    if isinstance(pacing, str):
        print(pacing)
        return
    sent, seconds = pacing
    achieved = (sent - 1) / seconds
    verdict = "MET" if achieved >= KEEPS_UP * args.publish_rate else "MISSED"
    print(f"publish to kafka   {achieved:>10,.0f} messages/s asked {args.publish_rate:g}/s ({sent} messages, "
          f"{seconds:.2f} s)  {verdict} (target: >= {KEEPS_UP:.0%} of the asked rate, never above it)")  # fmt: skip


if __name__ == "__main__":
    main()
