"""The BigQuery silver + DLQ sink on the BigQuery emulator (bqemulator 1.4.0, its own venv).

Rows are staged by a real pipeline run (Beam's local runner, the same ``build`` as
``run_pipeline``), exactly as the workers stage them, then loaded through the BigQuery backend
of the warehouse adapter, reached by settings (``bigquery.emulator_host``). Each test uses its
own datasets, so the session-wide emulator's other users never see its rows. The same files
are loaded into DuckDB too: both backends must agree row for row.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apache_beam as beam
import orjson
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from contracts.spec import SEALED_COLUMN
from logistics.settings import BigQuerySettings, GcpSettings, Settings, StorageSettings, WarehouseSettings
from logistics.warehouse import Warehouse, connect, dlq_table, managed_tables, silver_tables
from logistics.warehouse.duckdb_backend import open_duckdb
from pipeline.run import build
from pipeline.sinks.silver import StagedTables, staged_rows
from pipeline.sources.simulator.spine import GeneratedBatch, generate_events, write_jsonl

pytestmark = pytest.mark.integration

SILVER = sorted(t.name for t in silver_tables().values())


@dataclass(frozen=True)
class Staged:
    root: Path  # <root>/<table>/<writer>.parquet, as the workers leave them
    batch: GeneratedBatch

    def files(self, table: str) -> list[Path]:
        return sorted(p for p in (self.root / table).glob("*.parquet") if p.stat().st_size > 0)

    def rows(self, table: str) -> list[dict[str, Any]]:
        """As a load reads them: times as UTC datetimes, JSON columns parsed."""
        return list(staged_rows(str(self.root), table))

    def tables(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if self.files(p.name))


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Staged:
    """One real pipeline run over generated events (with its planted duplicate and malformed line)."""
    from apache_beam.runners.portability.fn_api_runner import worker_handlers

    root = tmp_path_factory.mktemp("bq-sink")
    settings = Settings(storage=StorageSettings(data_dir=root / "data"))
    batch = generate_events(shipments=3, seed=11)
    source = write_jsonl(batch, root / "input" / "events.jsonl")
    worker_handlers.STATE_CACHE_SIZE_MB = 0  # docs/local-components.md: the local runner's state-cache trap
    pipeline = beam.Pipeline(options=PipelineOptions([], runner=settings.pipeline.runner))
    build(pipeline, input_pattern=str(source), settings=settings, run_id="staged", load=False)
    pipeline.run().wait_until_finish()
    from pipeline.run import staging_uri

    return Staged(root=Path(staging_uri(settings, "staged")), batch=batch)


def _settings(emulator: Any, tmp_path: Path) -> Settings:
    """BigQuery by configuration, in datasets of this test's own."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    return Settings(
        gcp=GcpSettings(project_id=emulator.project),
        warehouse=WarehouseSettings(backend="bigquery"),
        bigquery=BigQuerySettings(
            emulator_host=emulator.url,
            datasets={name: f"{prefix}_{name}" for name in ("raw", "clean", "curated", "features")},
        ),
        storage=StorageSettings(data_dir=tmp_path / "data"),
    )


@contextmanager
def _bigquery(emulator: Any, tmp_path: Path) -> Iterator[tuple[Warehouse, Settings]]:
    settings = _settings(emulator, tmp_path)
    with connect(settings) as wh:
        assert wh.dialect == "bigquery"
        wh.ensure_tables()
        yield wh, settings


def _client(emulator: Any) -> Any:
    """An observer of the emulator independent of the adapter under test."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(
        project=emulator.project,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=emulator.url),
    )


def _load(wh: Warehouse, staged: Staged, files: dict[str, list[Any]] | None = None) -> dict[str, tuple[int, int]]:
    tables = {t.name: t for t in managed_tables() if t.dataset == "clean"}
    chosen = files or {name: list(staged.files(name)) for name in staged.tables()}
    return {name: wh.load_parquet_files(tables[name], f) for name, f in chosen.items()}


def _keys(wh: Warehouse, table: str) -> list[str]:
    key = {t.name: t.key for t in managed_tables()}[table]
    return sorted(r["k"] for r in wh.query(f"SELECT {key} AS k FROM clean.{table}"))


def test_ensure_tables_creates_every_contract_table_from_its_generated_schema(
    bigquery_emulator: Any, tmp_path: Path
) -> None:
    client = _client(bigquery_emulator)
    with _bigquery(bigquery_emulator, tmp_path) as (wh, _):
        for table in managed_tables():
            made = client.get_table(f"{bigquery_emulator.project}.{wh.physical(table.dataset)}.{table.name}")
            generated = table.schema
            assert [(f.name, f.field_type, f.mode) for f in made.schema] == [
                (f["name"], f["type"], f["mode"]) for f in generated["fields"]
            ], table.name
            assert made.time_partitioning.field == generated["timePartitioning"]["field"], table.name
            assert made.clustering_fields == generated.get("clustering"), table.name
        wh.ensure_tables()  # a second call changes nothing and does not fail
    client.close()


def test_a_table_created_before_pii_sealed_gets_the_column_untagged(bigquery_emulator: Any, tmp_path: Path) -> None:
    from google.cloud import bigquery

    client = _client(bigquery_emulator)
    settings = _settings(bigquery_emulator, tmp_path)
    table = silver_tables()["delivery"]
    dataset = f"{bigquery_emulator.project}.{settings.bigquery.datasets['clean']}"
    client.create_dataset(dataset)
    older = [bigquery.SchemaField.from_api_repr(f) for f in table.schema["fields"] if f["name"] != SEALED_COLUMN]
    client.create_table(bigquery.Table(f"{dataset}.{table.name}", schema=older))
    with connect(settings) as wh:
        wh.ensure_tables()
    made = client.get_table(f"{dataset}.{table.name}")
    [sealed] = [f for f in made.schema if f.name == SEALED_COLUMN]
    assert (sealed.field_type, sealed.mode) == ("STRING", "NULLABLE")
    assert not sealed.policy_tags  # Terraform attaches the tag by its Data Catalog id, not the adapter
    client.close()


def test_staged_silver_and_dlq_load_read_back_and_a_replay_adds_no_row(
    bigquery_emulator: Any, staged: Staged, tmp_path: Path
) -> None:
    batch = staged.batch
    with _bigquery(bigquery_emulator, tmp_path) as (wh, _):
        first = _load(wh, staged)
        # Every distinct well-formed event once, the malformed line in the DLQ, nothing skipped.
        assert sum(first[t][0] for t in SILVER if t in first) == batch.events
        assert first["dlq_events"] == (batch.malformed, 0)
        assert {name: n for name, (n, _) in first.items()} == {t: len(staged.rows(t)) for t in staged.tables()}

        # Read back through a parameterized query: TIMESTAMP and JSON columns as staged.
        shipment = next(r for r in staged.rows("shipment_events") if r["event_type"] == "shipment.created")
        rows = wh.query(
            "SELECT event_id, event_time, carrier_id, payload, JSON_VALUE(payload, '$.tracking_number') AS tn "
            "FROM clean.shipment_events WHERE event_id = @event_id",
            {"event_id": shipment["event_id"]},
        )
        assert len(rows) == 1
        row = rows[0]
        assert row["event_time"] == shipment["event_time"]
        assert row["carrier_id"] == shipment["carrier_id"]
        assert row["tn"] == shipment["payload"]["tracking_number"]
        payload = row["payload"] if isinstance(row["payload"], dict) else orjson.loads(row["payload"])
        assert payload == shipment["payload"]
        dead = wh.query("SELECT stage, reason_code, raw, attempt_count, status FROM clean.dlq_events")
        assert [(d["stage"], d["reason_code"], d["attempt_count"], d["status"]) for d in dead] == [
            ("normalize", "malformed_json", 1, "open")
        ]
        assert dead[0]["raw"] == staged.rows("dlq_events")[0]["raw"]
        before = {t: _keys(wh, t) for t in staged.tables()}

        # The replay: the same files again make no second row, every row counted as already present.
        again = _load(wh, staged)
        assert again == {name: (0, n) for name, (n, _) in first.items()}
        assert {t: _keys(wh, t) for t in staged.tables()} == before

    # The embedded backend, fed the same files, holds exactly the same keys.
    with open_duckdb(
        tmp_path / "warehouse.duckdb",
        datasets=BigQuerySettings().datasets,
        read_only=False,
    ) as duck:
        duck.ensure_tables()
        assert _load(duck, staged) == first
        assert {t: _keys(duck, t) for t in staged.tables()} == before


def test_a_key_repeated_within_one_load_makes_one_row_and_no_staging_table_is_left(
    bigquery_emulator: Any, staged: Staged, tmp_path: Path
) -> None:
    client = _client(bigquery_emulator)
    with _bigquery(bigquery_emulator, tmp_path) as (wh, _):
        table = silver_tables()["shipment"].name
        files = staged.files(table)
        n = len(staged.rows(table))
        assert _load(wh, staged, {table: files + files}) == {table: (n, n)}
        assert len(_keys(wh, table)) == n
        dataset = f"{bigquery_emulator.project}.{wh.physical('clean')}"
        left = sorted(t.table_id for t in client.list_tables(dataset))
        assert left == sorted(t.name for t in managed_tables() if t.dataset == "clean")
    client.close()


def test_gs_uris_load_in_one_job_and_local_replays_of_them_add_nothing(
    bigquery_emulator: Any, staged: Staged, tmp_path: Path
) -> None:
    """Workers on Dataflow stage to Cloud Storage; the emulator maps gs://BUCKET/PATH onto a folder."""
    bucket = f"staging-{uuid.uuid4().hex[:8]}"
    uris: dict[str, list[Any]] = {}
    for table in staged.tables():
        for f in staged.files(table):
            target = bigquery_emulator.gcs_root / bucket / "run" / table / f.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, target)
            uris.setdefault(table, []).append(f"gs://{bucket}/run/{table}/{f.name}")
    with _bigquery(bigquery_emulator, tmp_path) as (wh, _):
        from_gcs = _load(wh, staged, uris)
        assert from_gcs == {t: (len(staged.rows(t)), 0) for t in staged.tables()}
        assert dlq_table().name in from_gcs
        assert _load(wh, staged) == {t: (0, len(staged.rows(t))) for t in staged.tables()}


def test_the_pipelines_writer_step_loads_bigquery_and_replays_add_nothing(
    bigquery_emulator: Any, staged: Staged, tmp_path: Path
) -> None:
    """``load_staged``, the step ``run_pipeline`` runs after the workers, on the BigQuery backend,
    with the run's ledger recorded beside its rows and read back."""
    from pipeline.ledger import Ledger, committed
    from pipeline.sinks.silver import load_staged

    received = staged.batch.events + staged.batch.malformed
    with _bigquery(bigquery_emulator, tmp_path) as (wh, _):
        first = load_staged(wh, str(staged.root), window_seconds=300, counted=Ledger("first", received=received))
        assert sum(first.inserted[t] for t in SILVER) == staged.batch.events
        assert first.inserted["dlq_events"] == staged.batch.malformed
        assert set(first.already_present.values()) == {0}
        again = load_staged(wh, str(staged.root), window_seconds=300, counted=Ledger("again", received=received))
        assert set(again.inserted.values()) == {0}
        assert again.already_present == first.inserted

        ledgers = {ledger.run_id: ledger for _, _, ledger in committed(wh)}
        assert ledgers["first"].silver_total == staged.batch.events and ledgers["first"].balanced
        assert ledgers["again"].silver_already_present == staged.batch.events and ledgers["again"].balanced


def _restamped(staged: Staged, table: str, column: str, shift: dt.timedelta, out: Path) -> list[Path]:
    """The table's staged rows again, with ``column`` moved by ``shift`` (same keys)."""
    tables = StagedTables(staging_dir=str(out), name="restamped", window_seconds=300)
    for row in staged.rows(table):
        tables.add(table, {**row, column: row[column] + shift})
    tables.close()
    return [out / table / "restamped.parquet"]


def test_a_load_looks_for_earlier_keys_only_where_they_can_be_and_still_finds_them(
    bigquery_emulator: Any, staged: Staged, tmp_path: Path
) -> None:
    """A load compares its keys with the target's rows in its key window only (BigQuery prunes the
    other partitions, DuckDB skips the other row groups); what that window must still catch:
    a producer's retry re-stamped within the dedupe TTL, and a dead letter of a later run (its
    failed_time is the run's, so the DLQ has no window)."""
    shipments = silver_tables()["shipment"]
    assert shipments.key_window is not None and shipments.key_window.margin == dt.timedelta(hours=24)
    assert dlq_table().key_window is None
    later = {
        shipments.name: _restamped(staged, shipments.name, "event_time", dt.timedelta(hours=3), tmp_path / "retry"),
        "dlq_events": _restamped(staged, "dlq_events", "failed_time", dt.timedelta(days=5), tmp_path / "rerun"),
    }
    expected = {t: (0, len(staged.rows(t))) for t in later}
    with _bigquery(bigquery_emulator, tmp_path) as (wh, _):
        _load(wh, staged)
        assert _load(wh, staged, later) == expected
    with open_duckdb(tmp_path / "warehouse.duckdb", datasets=BigQuerySettings().datasets, read_only=False) as duck:
        duck.ensure_tables()
        _load(duck, staged)
        assert _load(duck, staged, later) == expected


def test_rows_merged_in_memory_follow_the_same_key_rules_on_both_backends(
    bigquery_emulator: Any, staged: Staged, tmp_path: Path
) -> None:
    """The unbounded pipeline's writer (``merge_rows``): silver inserts an event unless its id is
    there within the TTL in event time; event_counts_5m keeps each window's latest count."""
    shipments = silver_tables()["shipment"]
    rows = staged.rows(shipments.name)
    retried = [{**r, "ingest_time": "2030-01-01T00:00:00Z"} for r in rows[:2]]  # same events, re-sent
    far = [
        {**r, "event_time": (r["event_time"] + dt.timedelta(hours=25)).isoformat()} for r in rows[:1]
    ]  # the same id a day and an hour later: a new event under the 24 h TTL
    start = dt.datetime(2024, 1, 15, 10, 0, tzinfo=dt.UTC)
    count = {
        "window_start": start.isoformat(),
        "window_end": (start + dt.timedelta(minutes=5)).isoformat(),
        "event_type": "shipment.in_transit",
        "facility_id": "F-1",
        "pane_index": 0,
        "pane_timing": "EARLY",
        "count_id": "c1",
    }
    early = {**count, "event_count": 2, "computed_at": "2024-01-15T10:06:00Z"}
    later = {
        **count,
        "event_count": 5,
        "pane_index": 1,
        "pane_timing": "ON_TIME",
        "computed_at": "2024-01-15T10:07:00Z",
    }
    from logistics.warehouse import event_counts_table

    counts = event_counts_table()

    def exercise(wh: Warehouse) -> list[Any]:
        return [
            wh.merge_rows(shipments, rows),
            wh.merge_rows(shipments, rows),
            wh.merge_rows(shipments, retried),
            wh.merge_rows(shipments, far),
            wh.merge_rows(counts, [early]),
            wh.merge_rows(counts, [later]),
            wh.merge_rows(counts, [early]),  # an older pane arriving late changes nothing
            wh.query("SELECT event_count, pane_timing FROM clean.event_counts_5m"),
            len(wh.query(f"SELECT event_id FROM clean.{shipments.name}")),
        ]

    expected = [
        (len(rows), 0),
        (0, len(rows)),
        (0, 2),
        (1, 0),
        (1, 0),
        (1, 0),
        (0, 1),
        [{"event_count": 5, "pane_timing": "ON_TIME"}],
        len(rows) + 1,
    ]
    with _bigquery(bigquery_emulator, tmp_path) as (wh, _):
        assert exercise(wh) == expected
    with open_duckdb(tmp_path / "warehouse.duckdb", datasets=BigQuerySettings().datasets, read_only=False) as duck:
        duck.ensure_tables()
        assert exercise(duck) == expected


def _recount_as_python_made_it(wh: Warehouse, windows: list[dt.datetime]) -> list[tuple[Any, ...]]:
    """What the recount wrote when it ran in Python: the engine's counts, each made a row by
    ``count_row`` from the window start as the engine returned it."""
    from pipeline.windows.event_counts import RECOUNT, _recount_sql, count_row

    counts = wh.query(
        _recount_sql(),
        {
            "first": windows[0],
            "last": windows[-1] + dt.timedelta(seconds=300),
            "window_micros": 300_000_000,
            "windows": windows,
        },
    )
    rows = [
        count_row(
            start=r["window_start"],
            window_seconds=300,
            event_type=r["event_type"],
            facility_id=r["facility_id"],
            event_count=int(r["event_count"]),
            pane_index=0,
            pane_timing=RECOUNT,
        )
        for r in counts
    ]
    return sorted(_count_tuple(r) for r in rows)


def _count_tuple(row: dict[str, Any]) -> tuple[Any, ...]:
    def utc(at: dt.datetime) -> dt.datetime:
        return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)

    return (
        row["count_id"],
        utc(row["window_start"]),
        utc(row["window_end"]),
        row["event_type"],
        row["facility_id"],
        int(row["event_count"]),
        int(row["pane_index"]),
        row["pane_timing"],
    )


def test_the_recount_writes_the_rows_count_row_makes_on_both_backends(
    bigquery_emulator: Any, staged: Staged, tmp_path: Path
) -> None:
    """The bounded recount builds its event_counts_5m rows inside the engine (one MERGE / INSERT):
    the same rows, ``count_id`` included, that ``count_row`` makes of the engine's counts, one
    ``computed_at`` for the recount; a rerun changes only ``computed_at``."""
    from pipeline.sinks.silver import staged_windows
    from pipeline.windows.event_counts import count_id, recount_windows

    windows = sorted(staged_windows(str(staged.root)))
    assert windows
    with (
        _bigquery(bigquery_emulator, tmp_path) as (bq, _),
        open_duckdb(tmp_path / "warehouse.duckdb", datasets=BigQuerySettings().datasets, read_only=False) as duck,
    ):
        duck.ensure_tables()
        ids: dict[str, set[str]] = {}
        for wh in (bq, duck):
            _load(wh, staged)
            expected = _recount_as_python_made_it(wh, windows)
            assert recount_windows(wh, windows, window_seconds=300) == len(expected) > 0
            first = wh.query("SELECT * FROM clean.event_counts_5m")
            assert sorted(_count_tuple(r) for r in first) == expected, wh.dialect
            assert len({r["computed_at"] for r in first}) == 1
            recount_windows(wh, windows, window_seconds=300)  # a rerun: the same rows, counted again
            again = wh.query("SELECT * FROM clean.event_counts_5m")
            assert sorted(_count_tuple(r) for r in again) == expected
            assert min(r["computed_at"] for r in again) >= max(r["computed_at"] for r in first)
            ids[wh.dialect] = {r["count_id"] for r in again}
    # A window's row has one name on either engine, and the stream's count_row names it alike.
    assert ids["bigquery"] == ids["duckdb"]
    start = windows[0].astimezone(dt.UTC)
    assert count_id(start, "e", "f") == count_id(start.replace(tzinfo=None), "e", "f")
