"""A generated schema that grows a nullable column (pii_sealed) reaches tables created before it."""

from __future__ import annotations

import json

import duckdb

from contracts.spec import SEALED_COLUMN
from logistics.settings import Settings
from logistics.warehouse import connect, silver_tables
from logistics.warehouse._schema import TableDef


def test_an_existing_duckdb_table_gets_the_new_nullable_column_and_keeps_its_rows(settings: Settings) -> None:
    table = silver_tables()["delivery"]
    older = TableDef(
        dataset=table.dataset,
        name=table.name,
        schema={**table.schema, "fields": [f for f in table.schema["fields"] if f["name"] != SEALED_COLUMN]},
    )
    settings.storage.duckdb_path.parent.mkdir(parents=True)
    with connect(settings) as wh:  # the file and its schemas, as the adapter names them
        schema = wh.physical("clean")
    con = duckdb.connect(str(settings.storage.duckdb_path))  # DuckDB itself: the table as it was made before
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    con.execute(f'DROP TABLE IF EXISTS "{schema}"."{table.name}"')
    for statement in older.duckdb_ddl(schema):
        con.execute(statement)
    con.execute(
        f'INSERT INTO "{schema}"."{table.name}" (event_id, event_type, event_version, event_time, ingest_time, '
        "source_system, payload) VALUES ('old-1', 'delivery.failed', 1, TIMESTAMPTZ '2024-01-15 10:00:00+00', "
        "TIMESTAMPTZ '2024-01-15 10:00:01+00', 'test', '{}')"
    )
    con.close()
    with connect(settings) as wh:
        wh.ensure_tables()
        wh.ensure_tables()  # the second time there is nothing to add
        rows = wh.query(f"SELECT event_id, {SEALED_COLUMN} FROM clean.{table.name}")
    assert rows == [{"event_id": "old-1", SEALED_COLUMN: None}]


def test_only_nullable_columns_are_added() -> None:
    table = silver_tables()["delivery"]
    required = [f["name"] for f in table.schema["fields"] if f["mode"] == "REQUIRED"]
    assert [f["name"] for f in table.added_columns(set())] == [
        f["name"] for f in table.schema["fields"] if f["name"] not in required
    ]
    assert table.added_columns({f["name"] for f in table.schema["fields"]}) == []
    assert json.dumps(table.added_columns({"event_id"})[0])  # plain generated fields
