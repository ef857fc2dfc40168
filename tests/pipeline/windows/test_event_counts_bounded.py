"""event_counts_5m from bounded runs: the windows a run touched are recounted from silver."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson

from logistics.settings import Settings
from logistics.warehouse import connect
from pipeline.replay import replay_bronze
from pipeline.run import run_pipeline

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
WINDOW = NOW - dt.timedelta(minutes=30, seconds=NOW.minute % 5 * 60 + NOW.second)


def _scan(event_id: str, minute: float, facility: str, *, ingest_hours_later: float = 0) -> bytes:
    at = WINDOW + dt.timedelta(minutes=minute)
    return orjson.dumps(
        {
            "event_id": event_id,
            "event_type": "shipment.in_transit",
            "event_version": 1,
            "event_time": at.isoformat(),
            "ingest_time": (at + dt.timedelta(hours=ingest_hours_later, seconds=5)).isoformat(),
            "payload": {"shipment_id": f"S-{event_id}", "facility_id": facility, "carrier_id": "C"},
        }
    )


def _file(path: Path, lines: list[bytes]) -> str:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return str(path)


def _counts(settings: Settings) -> list[tuple[Any, ...]]:
    with connect(settings, read_only=True) as wh:
        rows = wh.query(
            "SELECT window_start, facility_id, event_count, pane_timing FROM clean.event_counts_5m "
            "ORDER BY window_start, facility_id"
        )
    return [(r["window_start"] - WINDOW, r["facility_id"], r["event_count"], r["pane_timing"]) for r in rows]


EXPECTED = [
    (dt.timedelta(0), "F-1", 2, "SILVER"),
    (dt.timedelta(0), "F-2", 1, "SILVER"),
    (dt.timedelta(minutes=5), "F-1", 1, "SILVER"),
]


def test_windows_are_counted_per_facility_from_silver(settings: Settings, tmp_path: Path) -> None:
    source = _file(
        tmp_path / "on_time.jsonl",
        [_scan("c-0", 0, "F-1"), _scan("c-1", 1, "F-1"), _scan("c-2", 2, "F-2"), _scan("c-3", 6, "F-1")],
    )
    assert run_pipeline(settings=settings, input_pattern=source).balanced
    assert _counts(settings) == EXPECTED
    with connect(settings, read_only=True) as wh:  # one recount, one time: its rows were counted together
        assert wh.query("SELECT count(DISTINCT computed_at) AS n FROM clean.event_counts_5m") == [{"n": 1}]

    # A rerun, a redelivered micro-batch, a bronze replay of the day: the same events, the same counts.
    rerun = run_pipeline(settings=settings, input_pattern=source)
    assert rerun.silver_total == 0 and rerun.balanced
    replay_bronze(settings=settings, start=WINDOW.date(), end=WINDOW.date())
    assert _counts(settings) == EXPECTED


def test_an_event_repeated_across_micro_batches_counts_once(settings: Settings, tmp_path: Path) -> None:
    # c-1 comes again in the second batch (a producer retry that crossed a batch boundary).
    first = _file(tmp_path / "first.jsonl", [_scan("c-0", 0, "F-1"), _scan("c-1", 1, "F-1")])
    second = _file(tmp_path / "second.jsonl", [_scan("c-1", 1, "F-1"), _scan("c-2", 2, "F-2"), _scan("c-3", 6, "F-1")])
    for path in (first, second):
        assert run_pipeline(settings=settings, input_pattern=path, landing=False).balanced
    assert _counts(settings) == EXPECTED


def test_a_late_event_is_counted_into_its_window(settings: Settings, tmp_path: Path) -> None:
    # Two days late: the stream's windows no longer accept it, a bounded run's recount does.
    source = _file(tmp_path / "late.jsonl", [_scan("late", 1, "F-9", ingest_hours_later=48)])
    assert run_pipeline(settings=settings, input_pattern=source).balanced
    assert _counts(settings) == [(dt.timedelta(0), "F-9", 1, "SILVER")]


def test_a_recount_writes_the_windows_asked_for_only(tmp_path: Path) -> None:
    # Silver holds events in three adjacent windows; the middle one is not asked for, though it lies
    # inside the asked range: rows are grouped per window before the windows are matched, and the
    # groups of a window not asked for are left out (as if its rows had been filtered out first).
    from logistics.settings import BigQuerySettings
    from logistics.warehouse import event_counts_table, silver_tables
    from logistics.warehouse.duckdb_backend import open_duckdb
    from pipeline.windows.event_counts import recount_windows

    def row(n: int, minute: float, facility: str | None) -> dict[str, Any]:
        at = WINDOW + dt.timedelta(minutes=minute)
        return {
            "event_id": f"e-{n}", "event_type": "shipment.in_transit", "event_version": 1, "event_time": at,
            "ingest_time": at, "source_system": "file", "trace_id": None, "shipment_id": f"S-{n}",
            "facility_id": facility, "carrier_id": "C", "facility_name": None, "facility_region": None,
            "carrier_name": None, "pii_sealed": None, "payload": {"n": n},
        }  # fmt: skip

    rows = [
        row(0, 0, "F-1"),
        row(1, 4.99, "F-1"),
        row(2, 5, "F-1"),
        row(3, 9, None),
        row(4, 10, "F-2"),
        row(5, 14, None),
    ]
    asked = [WINDOW, WINDOW + dt.timedelta(minutes=10)]
    with open_duckdb(tmp_path / "w.duckdb", datasets=BigQuerySettings().datasets, read_only=False) as wh:
        wh.ensure_tables()
        wh.merge_rows(silver_tables()["shipment"], rows)
        assert recount_windows(wh, asked, window_seconds=300) == 3
        counted = wh.query(
            f"SELECT window_start, window_end, facility_id, event_count FROM clean.{event_counts_table().name} "
            "ORDER BY window_start, facility_id NULLS FIRST"
        )
    ten, five = dt.timedelta(minutes=10), dt.timedelta(minutes=5)
    got = [
        (r["window_start"] - WINDOW, r["window_end"] - r["window_start"], r["facility_id"], r["event_count"])
        for r in counted
    ]
    assert got == [(dt.timedelta(0), five, "F-1", 2), (ten, five, None, 1), (ten, five, "F-2", 1)]
