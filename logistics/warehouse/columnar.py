"""Rows as Arrow columns, typed by the generated schema: what bulk loads stage and read.

Both backends load the same Parquet files (DuckDB natively, BigQuery by load job), so one Arrow
schema per table serves both, derived from the generated BigQuery schema like the DuckDB DDL.
JSON columns travel as their JSON text (``orjson``): each engine parses it on the way into the
table (DuckDB ``json()``, BigQuery ``PARSE_JSON``), which stores what a load of the row as a
JSON line stores. Every column is nullable in the file: a REQUIRED column is enforced where it
always was, by the table the rows go into.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import orjson
import pyarrow as pa

from logistics.warehouse._schema import TableDef

TIMESTAMP = pa.timestamp("us", tz="UTC")  # BigQuery's TIMESTAMP and DuckDB's TIMESTAMPTZ: µs since the epoch, UTC

_BQ_TO_ARROW: dict[str, pa.DataType] = {
    "STRING": pa.string(),
    "INT64": pa.int64(),
    "INTEGER": pa.int64(),
    "FLOAT64": pa.float64(),
    "FLOAT": pa.float64(),
    "BOOL": pa.bool_(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": TIMESTAMP,
    "DATE": pa.date32(),
    "JSON": pa.string(),  # the JSON text
    "BYTES": pa.binary(),
    "NUMERIC": pa.decimal128(38, 9),
}


@cache
def _schema_of(fields: tuple[tuple[str, str], ...]) -> pa.Schema:
    return pa.schema([pa.field(name, _BQ_TO_ARROW[kind]) for name, kind in fields])


def _fields(table: TableDef) -> tuple[tuple[str, str], ...]:
    return tuple((f["name"], f["type"]) for f in table.schema["fields"])


def arrow_schema(table: TableDef) -> pa.Schema:
    """The table's columns in the generated order, each nullable; JSON columns as text."""
    return _schema_of(_fields(table))


def json_columns(table: TableDef) -> tuple[str, ...]:
    """Columns whose staged text the engine parses as JSON."""
    return tuple(name for name, kind in _fields(table) if kind == "JSON")


@cache
def _plain_columns(fields: tuple[tuple[str, str], ...]) -> pa.StructType:
    """The non-JSON columns as one struct: converted from the rows' dicts in one pass (C++)."""
    return pa.struct([f for f in _schema_of(fields) if dict(fields)[f.name] != "JSON"])


def record_batch(table: TableDef, rows: Sequence[Mapping[str, Any]]) -> pa.RecordBatch:
    """``rows`` (dicts by column name, as the pipeline builds them) as one batch of the table's
    columns. A column a row lacks is NULL and a key the table lacks is ignored, as in a JSON
    line's load; timestamps are datetimes (naive ones are UTC) or ISO-8601 texts."""
    fields = _fields(table)
    schema, plain = _schema_of(fields), _plain_columns(fields)
    try:
        columns = dict(zip(plain.names, pa.array(rows, plain).flatten(), strict=True))
    except pa.ArrowTypeError:  # times as ISO-8601 texts (rows read back from JSON): column by column
        columns = {f.name: _column([row.get(f.name) for row in rows], f.type) for f in plain}
    for name in json_columns(table):
        # As str (decoding checks the UTF-8): Arrow copies str values once, where bytes would be copied
        # into a binary column and again by a cast to string (~20% more for the column).
        texts = [None if (v := row.get(name)) is None else orjson.dumps(v).decode() for row in rows]
        columns[name] = pa.array(texts, pa.string())
    return pa.RecordBatch.from_arrays([columns[name] for name in schema.names], schema=schema)


def _column(values: list[Any], kind: pa.DataType) -> pa.Array:
    if kind == TIMESTAMP:  # parsed as a JSON line's load parses them
        values = [dt.datetime.fromisoformat(v) if isinstance(v, str) else v for v in values]
    return pa.array(values, kind)
