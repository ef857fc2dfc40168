"""Rows staged column-wise (Parquet) load exactly the rows the JSON-lines staging loaded.

The JSON-lines staging and its load survive as the benchmark's baseline (``benchmarks.baseline``):
here they are the oracle. The same rows, tricky on purpose (NULLs, unicode, nested JSON with
big and tiny numbers, microsecond and non-UTC timestamps, dead letters whose raw text is not
JSON), go through both, each into its own DuckDB file, and every column of every row read back
(JSON as its stored text) must be the same, with the same counts; a replay writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks import baseline
from logistics.settings import BigQuerySettings
from logistics.warehouse import event_counts_table, managed_tables, silver_tables
from logistics.warehouse.duckdb_backend import DuckDBWarehouse, open_duckdb
from pipeline.sinks.silver import DLQ, LoadResult, StagedTables, load_staged, staged_files, staged_rows
from pipeline.sinks.topics import DLQ_ATTRIBUTES, row_message

UTC = dt.UTC
SHIPMENTS = silver_tables()["shipment"].name
PLUS_TWO = dt.timezone(dt.timedelta(hours=2))


def _silver(event_id: str, event_time: dt.datetime, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_id": event_id,
        "event_type": "shipment.created",
        "event_version": 1,
        "event_time": event_time,
        "ingest_time": dt.datetime(2024, 1, 15, 12, 0, 0, 1, tzinfo=UTC),
        "source_system": "file",
        "trace_id": None,
        "shipment_id": "SHP-1",
        "facility_id": None,
        "carrier_id": "CAR-1",
        "facility_name": None,
        "facility_region": None,
        "carrier_name": None,
        "pii_sealed": None,
        "payload": {"shipment_id": "SHP-1"},
    }
    return row | overrides


TRICKY_PAYLOADS: list[Any] = [
    {"a": 0.1, "tiny": 1e-7, "huge": 1.5e300, "sub": 5e-324, "round": 1e16, "neg_zero": -0.0},
    {"max": 2**63 - 1, "min": -(2**63), "u64": 2**64 - 1, "digits": 123456789.12345679},
    {"text": 'é ü 中文 😀 \u2028 "quoted" \\ back\nslash\ttab', "nul": "a\x00b", "empty": ""},
    {"nested": [1, [2, [3, {"deep": None}]], {"k": True, "f": False}], "list": [], "obj": {}},
    {"order": {"z": 1, "a": 2, "m": 3}},
]


def _rows() -> list[tuple[str, dict[str, Any]]]:
    base = dt.datetime(2024, 1, 15, 10, 0, 0, 123456, tzinfo=UTC)
    rows: list[tuple[str, dict[str, Any]]] = []
    for n, payload in enumerate(TRICKY_PAYLOADS):
        rows.append((SHIPMENTS, _silver(f"E-{n}", base + dt.timedelta(minutes=7 * n, microseconds=n), payload=payload)))
    rows += [
        # A non-UTC event time, a microsecond before a window boundary.
        (SHIPMENTS, _silver("E-tz", dt.datetime(2024, 1, 15, 13, 4, 59, 999999, tzinfo=PLUS_TWO))),
        # Every nullable column set, in unicode; the sealed column a JSON text of its own.
        (
            SHIPMENTS,
            _silver(
                "E-full",
                base,
                trace_id="trace-ü",
                facility_id="FAC-ß",
                facility_name="Zürich Hub 😀",
                facility_region="Ünïcode",
                carrier_name="Ćarrier",
                pii_sealed=orjson.dumps({"payload.customer.email": "tok:ÄÖ=="}).decode(),
            ),
        ),
        # A column missing from the row is NULL; a key the table lacks is ignored.
        (SHIPMENTS, {k: v for k, v in _silver("E-sparse", base).items() if k != "carrier_id"} | {"extra": 1}),
        # The same event twice (a retried bundle): one row, one skipped.
        (SHIPMENTS, _silver("E-0", base, payload=TRICKY_PAYLOADS[0])),
        # The same id a day and more later: another event under the 24 h TTL.
        (SHIPMENTS, _silver("E-0", base + dt.timedelta(hours=30), payload=TRICKY_PAYLOADS[0])),
        (silver_tables()["delivery"].name, _silver("D-1", base, event_type="delivery.completed")),
    ]
    failed = dt.datetime(2024, 1, 15, 12, 30, 0, 654321, tzinfo=UTC)
    for n, raw in enumerate(['{"event_id": "E-9", "payload": {', "not json at all ü", "\x00\x01 binary-ish", ""]):
        rows.append(
            (
                DLQ,
                {
                    "dlq_id": f"dlq-{n}",
                    "failed_time": failed,
                    "stage": "normalize",
                    "reason_code": "malformed_json",
                    "reason": "the record is not JSON",
                    "event_id": None if n % 2 else f"E-{n}",
                    "event_type": None,
                    "event_version": None if n % 2 else 2,
                    "contract_version": None,
                    "source_system": "file",
                    "raw": raw,
                    "attempt_count": 1,
                    "last_attempt_time": failed,
                    "status": "open",
                    "trace_id": None,
                    "original": None if n % 2 else "sealed:abc",
                },
            )
        )
    rows.append((DLQ, dict(rows[-1][1])))  # the same dead letter twice: one row
    return rows


def _stage(staged_tables: Callable[..., Any], root: Path, rows: list[tuple[str, dict[str, Any]]]) -> str:
    """``rows`` staged by two writers (as two bundles would), split mid-way."""
    staging = str(root / "staging")
    half = len(rows) // 2
    for name, part in (("a", rows[:half]), ("b", rows[half:])):
        extra = {"rows_per_group": 2} if staged_tables is StagedTables else {}  # several row groups per file
        tables = staged_tables(staging_dir=staging, name=name, window_seconds=300, **extra)
        for table, row in part:
            tables.add(table, row)
        tables.close()
    return staging


def _warehouse_rows(wh: DuckDBWarehouse) -> dict[str, list[tuple[Any, ...]]]:
    """Every managed clean table's rows, JSON as stored text, in a stable order (computed_at aside)."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for table in managed_tables():
        if table.dataset != "clean" or table.name == "pipeline_ledger":
            continue
        kinds = table.duckdb_columns()
        columns = [
            f"CAST(`{c}` AS STRING)" if kinds[c] == "JSON" else f"`{c}`" for c in table.columns if c != "computed_at"
        ]
        rows = wh.query(f"SELECT {', '.join(columns)} FROM clean.{table.name}")
        tables[table.name] = sorted((tuple(r.values()) for r in rows), key=repr)
    return tables


def _load(path: Path, staging: str, load: Callable[..., LoadResult]) -> tuple[LoadResult, dict[str, Any]]:
    with open_duckdb(path, datasets=BigQuerySettings().datasets, read_only=False) as wh:
        result = load(wh, staging, window_seconds=300)
        return result, _warehouse_rows(wh)


@pytest.fixture
def both(tmp_path: Path) -> dict[str, Any]:
    rows = _rows()
    return {
        "json": _stage(baseline.StagedTables, tmp_path / "json", rows),
        "parquet": _stage(StagedTables, tmp_path / "parquet", rows),
    }


def test_parquet_staging_loads_exactly_the_rows_json_lines_loaded(both: dict[str, Any], tmp_path: Path) -> None:
    json_result, json_rows = _load(tmp_path / "json.duckdb", both["json"], baseline.load_staged)
    parquet_result, parquet_rows = _load(tmp_path / "parquet.duckdb", both["parquet"], load_staged)

    assert parquet_rows == json_rows
    assert parquet_result == json_result
    # What the rows are: the retried event and the repeated dead letter once each, the far copy kept.
    assert parquet_result.inserted == {
        SHIPMENTS: 9,
        silver_tables()["delivery"].name: 1,
        silver_tables()["driver"].name: 0,
        silver_tables()["facility"].name: 0,
        DLQ: 4,
    }
    assert parquet_result.already_present[SHIPMENTS] == 1 and parquet_result.already_present[DLQ] == 1
    assert parquet_result.windows_recounted == len(parquet_rows[event_counts_table().name]) > 0
    # The payloads really hold what was staged (not merely the same on both sides).
    stored = {orjson.loads(r[-1])["order"]["z"] for r in parquet_rows[SHIPMENTS] if "order" in orjson.loads(r[-1])}
    assert stored == {1}


def test_a_replay_of_the_same_staged_files_writes_nothing(both: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "replay.duckdb"
    first, rows = _load(path, both["parquet"], load_staged)
    again, rows_again = _load(path, both["parquet"], load_staged)

    assert rows_again == rows
    assert set(again.inserted.values()) == {0}
    staged = {t: first.inserted[t] + first.already_present[t] for t in first.inserted}
    assert again.already_present == staged


def test_rows_loaded_beside_earlier_ones_are_stored_as_one_load_stores_them(
    both: dict[str, Any], tmp_path: Path
) -> None:
    """A load beside earlier rows parses its JSON texts after the key rule's anti-join (rows already
    there are never parsed): what it adds is stored as a single load of every row stored it."""
    path = tmp_path / "beside.duckdb"
    _load(path, _stage(StagedTables, tmp_path / "every_other", _rows()[::2]), load_staged)
    result, rows = _load(path, both["parquet"], load_staged)
    _, json_rows = _load(tmp_path / "json.duckdb", both["json"], baseline.load_staged)

    assert result.inserted[SHIPMENTS] > 0 and result.already_present[SHIPMENTS] > 0  # both sides of the anti-join
    assert rows == json_rows


def _as_loaded(table: str, line: bytes) -> dict[str, Any]:
    """A JSON line's row as its load stores it: every column (NULL when absent), times in UTC."""
    row = orjson.loads(line)
    definition = {t.name: t for t in managed_tables()}[table]
    times = {c for c, kind in definition.duckdb_columns().items() if kind == "TIMESTAMPTZ"}
    return {
        c: dt.datetime.fromisoformat(row[c]).astimezone(UTC) if c in times and row.get(c) else row.get(c)
        for c in definition.columns
    }


def test_staged_rows_read_back_publish_the_rows_as_loaded(both: dict[str, Any]) -> None:
    """The topics publish staged DLQ rows and updates after the load: each message is the row the
    load stored (all columns, UTC times), which for rows the pipeline stages (all columns, UTC) is
    byte for byte what the JSON lines published."""
    for table in (DLQ, SHIPMENTS):
        lines = [
            line for path in baseline.staged_files(both["json"], table) for line in Path(path).read_bytes().splitlines()
        ]
        after = [row_message(r, attributes=DLQ_ATTRIBUTES) for r in staged_rows(both["parquet"], table)]
        assert after == [row_message(_as_loaded(table, line), attributes=DLQ_ATTRIBUTES) for line in lines]
        already_utc = [line for line in lines if b"+02:00" not in line and b'"E-sparse"' not in line]
        assert set(already_utc) <= {body for body, _ in after}, "the same bytes as a JSON line"
    assert all(p.endswith(".parquet") for p in staged_files(both["parquet"], SHIPMENTS))


def test_rows_merged_in_memory_match_the_json_merge_with_times_as_text(tmp_path: Path) -> None:
    """The streaming writer's batches arrive JSON-decoded (times as ISO texts): the Arrow merge
    stores what the JSON-lines merge stored."""
    rows = [orjson.loads(orjson.dumps(row, option=orjson.OPT_UTC_Z)) for table, row in _rows() if table == SHIPMENTS]
    stored = []
    for name, merge in (("json", baseline.merge_rows), ("arrow", DuckDBWarehouse.merge_rows)):
        with open_duckdb(tmp_path / f"{name}.duckdb", datasets=BigQuerySettings().datasets, read_only=False) as wh:
            wh.ensure_tables()
            counts = [merge(wh, silver_tables()["shipment"], rows), merge(wh, silver_tables()["shipment"], rows)]
            stored.append((counts, _warehouse_rows(wh)))
    assert stored[0] == stored[1]
    assert stored[1][0] == [(9, 1), (0, 10)]


def test_loads_into_an_empty_span_and_beside_earlier_rows_keep_the_key_rules(tmp_path: Path) -> None:
    """A load whose keys have no row of the table around them (a first load, a new span of time)
    inserts without looking them up; repeats within it still count once. One beside earlier rows
    still skips the keys already there."""
    day = dt.datetime(2024, 1, 15, 10, 0, tzinfo=UTC)
    far = day + dt.timedelta(days=40)  # beyond the shipments' key window: no earlier row around it
    loads = {
        "first": [_silver("A-1", day), _silver("A-2", day), _silver("A-2", day)],
        "beside": [_silver("A-1", day), _silver("B-1", day + dt.timedelta(minutes=1))],
        "far": [_silver("A-1", far), _silver("C-1", far), _silver("C-1", far)],
    }
    results = {}
    with open_duckdb(tmp_path / "w.duckdb", datasets=BigQuerySettings().datasets, read_only=False) as wh:
        for name, rows in loads.items():
            staging = str(tmp_path / name)
            tables = StagedTables(staging_dir=staging, name=name, window_seconds=300)
            for row in rows:
                tables.add(SHIPMENTS, row)
            tables.close()
            result = load_staged(wh, staging, window_seconds=300)
            results[name] = (result.inserted[SHIPMENTS], result.already_present[SHIPMENTS])
        stored = wh.query(f"SELECT event_id, event_time FROM clean.{SHIPMENTS} ORDER BY event_time, event_id")
    assert results == {"first": (2, 1), "beside": (1, 1), "far": (2, 1)}
    assert [(r["event_id"], r["event_time"]) for r in stored] == [
        ("A-1", day),
        ("A-2", day),
        ("B-1", day + dt.timedelta(minutes=1)),
        ("A-1", far),  # the same id 40 days later: another event under the 24 h TTL
        ("C-1", far),
    ]


def test_a_load_whose_recount_fails_leaves_neither_rows_nor_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The recount commits with the rows it counts: a failure in it takes the run's rows back too,
    # so silver and event_counts_5m never disagree about a committed run.
    import pipeline.sinks.silver as silver

    staging = _stage(StagedTables, tmp_path, _rows())

    def failing(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("recount failed")

    monkeypatch.setattr(silver, "recount_windows", failing)
    path = tmp_path / "warehouse.duckdb"
    with open_duckdb(path, datasets=BigQuerySettings().datasets, read_only=False) as wh:
        with pytest.raises(RuntimeError, match="recount failed"):
            load_staged(wh, staging, window_seconds=300)
        assert all(rows == [] for rows in _warehouse_rows(wh).values())
    monkeypatch.undo()
    with open_duckdb(path, datasets=BigQuerySettings().datasets, read_only=False) as wh:
        result = load_staged(wh, staging, window_seconds=300)
        loaded = _warehouse_rows(wh)
    assert result.windows_recounted == len(loaded[event_counts_table().name]) > 0
    assert sum(result.inserted.values()) == sum(len(loaded[t]) for t in result.inserted) > 0
