"""event_counts_5m in a bounded run (micro-batches): on-time events are counted and loaded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.replay import replay_bronze
from pipeline.run import run_pipeline


def test_on_time_events_are_counted_per_window_and_facility(settings: Settings, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    window_start = now - dt.timedelta(minutes=30, seconds=now.minute % 5 * 60 + now.second)
    lines = []
    for n, (minute, facility) in enumerate([(0, "F-1"), (1, "F-1"), (2, "F-2"), (6, "F-1")]):
        at = window_start + dt.timedelta(minutes=minute)
        lines.append(
            orjson.dumps(
                {
                    "event_id": f"c-{n}",
                    "event_type": "shipment.in_transit",
                    "event_version": 1,
                    "event_time": at.isoformat(),
                    "ingest_time": (at + dt.timedelta(seconds=5)).isoformat(),
                    "payload": {"shipment_id": f"S-{n}", "facility_id": facility, "carrier_id": "C"},
                }
            ).decode()
        )
    source = tmp_path / "on_time.jsonl"
    source.write_text("\n".join(lines) + "\n")

    ledger = run_pipeline(settings=settings, input_pattern=str(source))

    assert ledger.balanced and ledger.late_for_counts == 0
    with connect(settings, read_only=True) as wh:
        rows = wh.query(
            "SELECT window_start, facility_id, event_count, pane_timing FROM clean.event_counts_5m "
            "ORDER BY window_start, facility_id"
        )
    assert [(r["window_start"] - window_start, r["facility_id"], r["event_count"]) for r in rows] == [
        (dt.timedelta(0), "F-1", 2),
        (dt.timedelta(0), "F-2", 1),
        (dt.timedelta(minutes=5), "F-1", 1),
    ]
    assert {r["pane_timing"] for r in rows} == {"ON_TIME"}

    # A rerun (or a redelivered micro-batch) counts the same events under a new run id: the
    # counts must not double. A bronze replay of the day recounts it: same counts again.
    rerun = run_pipeline(settings=settings, input_pattern=str(source))
    assert rerun.silver_total == 0 and rerun.balanced
    day = window_start.date()
    replay_bronze(settings=settings, start=day, end=day)
    with connect(settings, read_only=True) as wh:
        totals = wh.query("SELECT facility_id, SUM(event_count) AS n FROM clean.event_counts_5m GROUP BY 1 ORDER BY 1")
    assert [(r["facility_id"], r["n"]) for r in totals] == [("F-1", 3), ("F-2", 1)]
