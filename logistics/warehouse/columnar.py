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
import sys
from collections.abc import Mapping, Sequence
from functools import cache
from itertools import repeat
from operator import attrgetter, is_, itemgetter, sub
from typing import Any

import orjson
import pyarrow as pa

from logistics.warehouse._schema import TableDef

TIMESTAMP = pa.timestamp("us", tz="UTC")  # BigQuery's TIMESTAMP and DuckDB's TIMESTAMPTZ: µs since the epoch, UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_TZINFO = attrgetter("tzinfo")
_UTC_ONLY = frozenset([dt.UTC])

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


class RowWithJsonText(dict[str, Any]):
    """A row that also holds the JSON text of its value in one JSON column: ``json_text`` is
    ``orjson.dumps(row[json_column])``, written once already (a silver row's payload: the
    protected envelope's payload text). Staging writes that text instead of dumping the value
    again. Built like a dict, then both set; neither that value nor the text changes afterwards."""

    __slots__ = ("json_column", "json_text")
    json_column: str
    json_text: str


class TableRows:
    """A table's rows as they come, each kept as the tuple of its column values: the plain
    columns' values (taken in one C call) and each JSON column's text (written when the row
    comes), nothing the garbage collector walks, not the row's dicts. :meth:`batch` turns them
    into one batch of the table's columns, a column at a time.

    A column a row lacks is NULL and a key the table lacks is ignored, as in a JSON line's load;
    timestamps are datetimes (naive ones are UTC) or ISO-8601 texts; a JSON column's value is
    any JSON-able object (a :class:`RowWithJsonText` brings its text)."""

    def __init__(self, table: TableDef) -> None:
        fields = _fields(table)
        self._schema = _schema_of(fields)
        # interned like the keys of the dicts the pipeline writes: a lookup finds its key by identity
        self._plain = tuple(sys.intern(name) for name, kind in fields if kind != "JSON")
        self._json = json_columns(table)
        # One C call for the row's values (a tuple from two names on: every table has that many)
        self._values_of = itemgetter(*self._plain) if len(self._plain) > 1 else lambda row: (row[self._plain[0]],)
        self._rows: list[tuple[Any, ...]] = []

    def add(self, row: Mapping[str, Any]) -> int:
        """Keep ``row``; the rows kept now."""
        try:
            values = self._values_of(row)
        except KeyError:  # a column the row lacks is NULL
            values = tuple([row.get(name) for name in self._plain])
        text: str | None
        for name in self._json:
            if type(row) is RowWithJsonText and row.json_column == name:
                text = row.json_text
            else:
                # As str (decoding checks the UTF-8): Arrow copies str values once, where bytes would be
                # copied into a binary column and again by a cast to string (~20% more for the column).
                value = row.get(name)
                text = None if value is None else orjson.dumps(value).decode()
            values += (text,)
        self._rows.append(values)
        return len(self._rows)

    def batch(self) -> pa.RecordBatch:
        """The rows kept, as one batch (and no longer kept)."""
        rows, self._rows = self._rows, []
        by_name = dict(zip(self._plain + self._json, zip(*rows, strict=True), strict=False))  # no rows: none
        columns = [
            _timestamps(by_name.get(f.name, ())) if f.type == TIMESTAMP else pa.array(by_name.get(f.name, ()), f.type)
            for f in self._schema
        ]
        return pa.RecordBatch.from_arrays(columns, schema=self._schema)


def record_batch(table: TableDef, rows: Sequence[Mapping[str, Any]]) -> pa.RecordBatch:
    """``rows`` (dicts by column name, as the pipeline builds them) as one batch of the table's
    columns (:class:`TableRows`)."""
    kept = TableRows(table)
    for row in rows:
        kept.add(row)
    return kept.batch()


def _timestamps(values: Sequence[Any]) -> pa.Array:
    """A TIMESTAMP column. UTC datetimes, the pipeline's own (every value one, or the column
    takes the general path), as their distance from the epoch: the subtraction of two datetimes
    of one zone is exact arithmetic on their fields, in C, and Arrow converts a timedelta without
    calling back into Python, where it asks each aware datetime its offset (~5x the time). A
    duration in µs is the timestamp's own int64: viewed as one, not copied. Any other zone takes
    the general path, Arrow's own reading of its offsets (which drops an offset's fraction of a
    second, where a subtraction would not). One UTC datetime throughout (a batch's ingest time: the
    same object in every row) is subtracted once and repeated."""
    if values and getattr(values[0], "tzinfo", None) in _UTC_ONLY and all(map(is_, values, repeat(values[0]))):
        return pa.repeat(pa.scalar(values[0] - _EPOCH, pa.duration("us")), len(values)).view(TIMESTAMP)
    try:
        utc = set(map(_TZINFO, values)) <= _UTC_ONLY
    except AttributeError:  # a NULL or an ISO-8601 text
        utc = False
    if utc:
        return pa.array(list(map(sub, values, repeat(_EPOCH))), pa.duration("us")).view(TIMESTAMP)
    # naive datetimes are UTC; texts are parsed as a JSON line's load parses them
    return pa.array([dt.datetime.fromisoformat(v) if isinstance(v, str) else v for v in values], TIMESTAMP)
