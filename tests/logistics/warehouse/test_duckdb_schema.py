"""The embedded warehouse follows the generated schemas: a table made from an older schema gains
the NULLABLE columns a newer one added, so an existing ``.data/`` keeps loading."""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson

from logistics.settings import Settings
from logistics.warehouse import TableDef, connect, dlq_table
from logistics.warehouse._schema import UNCOMPRESSED_IN_DUCKDB
from logistics.warehouse.duckdb_backend import DuckDBWarehouse
from pipeline.run import run_pipeline

ADDED = ("trace_id", "original")  # DLQ columns added after tables were already in use


def test_an_older_dlq_table_gains_the_new_columns_and_keeps_its_rows(settings: Settings, tmp_path: Path) -> None:
    table = dlq_table()
    older = [f for f in table.schema["fields"] if f["name"] not in ADDED]
    settings.storage.duckdb_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.storage.duckdb_path)) as con:  # the table as an older release made it
        con.execute('CREATE SCHEMA "clean"')
        con.execute(TableDef("clean", "dlq_events", {**table.schema, "fields": older}).duckdb_ddl("clean")[0])
        con.execute(
            "INSERT INTO clean.dlq_events (dlq_id, failed_time, stage, reason_code, reason, raw, attempt_count, "
            "last_attempt_time, status) "
            "VALUES ('old-1', NOW(), 'normalize', 'malformed_json', 'x', '{', 1, NOW(), 'open')"
        )

    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"truncated": \n')
    ledger = run_pipeline(settings=settings, input_pattern=str(source))  # its load adds the columns first
    assert ledger.dlq == 1

    with connect(settings, read_only=True) as wh:
        rows = {r["dlq_id"]: r for r in wh.query("SELECT dlq_id, trace_id, original FROM clean.dlq_events")}
    with duckdb.connect(str(settings.storage.duckdb_path), read_only=True) as con:
        names = [
            name
            for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'dlq_events' "
                "ORDER BY ordinal_position"
            ).fetchall()
        ]
    assert names == table.columns  # the added columns come last, as in the generated schema
    assert rows["old-1"]["original"] is None
    (new,) = (r for k, r in rows.items() if k != "old-1")
    assert str(new["original"]).startswith("sealed:v1:")
    assert orjson.dumps(rows, default=str)  # every row reads back


def test_per_event_ids_are_stored_uncompressed_and_the_other_strings_compressed(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        DuckDBWarehouse(con, datasets={}).ensure_tables()
        con.execute(
            "INSERT INTO clean.shipment_events (event_id, event_type, event_version, event_time, ingest_time, "
            "source_system, trace_id, shipment_id, payload) SELECT 'id-' || i, 'shipment.created', 1, now(), now(), "
            "'simulator', 'trace-' || i, 'SHP-' || (i % 10), '{}' FROM range(5000) AS t(i)"
        )
        con.execute("CHECKPOINT")  # the rows' segments are compressed as they are written to the file
        stored = dict(
            con.execute(
                "SELECT column_name, string_agg(DISTINCT compression) "
                "FROM pragma_storage_info('clean.shipment_events') WHERE segment_type = 'VARCHAR' GROUP BY column_name"
            ).fetchall()
        )
    assert set(UNCOMPRESSED_IN_DUCKDB) == {"event_id", "trace_id"}
    assert stored["event_id"] == stored["trace_id"] == "Uncompressed"
    assert stored["shipment_id"] != "Uncompressed"  # DuckDB still picks the compression of every other column
    assert stored["event_type"] != "Uncompressed"
