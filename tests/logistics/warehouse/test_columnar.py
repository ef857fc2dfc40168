"""record_batch's fast paths build exactly the batches its general path built.

:func:`record_batch_before` is the function as it was before them (one struct conversion of every
non-JSON column, every JSON value dumped): the oracle. Over a simulated feed with every fault (silver
rows as ``stage_event`` makes them, DLQ rows as ``dlq_row`` makes them) and rows made to be awkward
(NULLs, missing keys, naive and non-UTC datetimes, ISO-8601 texts, the first and last microsecond a
datetime holds), each new batch must equal the old one column for column, type for type.
"""

from __future__ import annotations

import base64
import datetime as dt
import pickle
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logistics.warehouse import TableDef, dlq_table, silver_tables
from logistics.warehouse.columnar import (
    TIMESTAMP,
    RowWithJsonText,
    TableRows,
    _timestamps,
    json_columns,
    record_batch,
)
from logistics.warehouse.columnar import _fields as fields_of
from logistics.warehouse.columnar import _schema_of as schema_of
from pipeline.dead_letter import DeadLetter
from pipeline.sinks.silver import dlq_row
from pipeline.sources.simulator import FAULT_KINDS, Faults, SimulationConfig, simulate
from pipeline.transforms.check import check
from pipeline.transforms.enrich import DimensionSnapshot
from pipeline.transforms.pii import Tokenizer, protect_dead_letter
from pipeline.transforms.stage import stage_event

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 5, 12, tzinfo=UTC)
SHIPMENTS = silver_tables()["shipment"]
TABLES = {t.name: t for t in [*silver_tables().values(), dlq_table()]}


def record_batch_before(table: TableDef, rows: Sequence[Mapping[str, Any]]) -> pa.RecordBatch:
    """record_batch before its fast paths (verbatim but for names)."""
    fields = fields_of(table)
    schema = schema_of(fields)
    plain = pa.struct([f for f in schema if dict(fields)[f.name] != "JSON"])
    try:
        columns = dict(zip(plain.names, pa.array(rows, plain).flatten(), strict=True))
    except pa.ArrowTypeError:
        columns = {f.name: column_before([row.get(f.name) for row in rows], f.type) for f in plain}
    for name in json_columns(table):
        texts = [None if (v := row.get(name)) is None else orjson.dumps(v).decode() for row in rows]
        columns[name] = pa.array(texts, pa.string())
    return pa.RecordBatch.from_arrays([columns[name] for name in schema.names], schema=schema)


def column_before(values: list[Any], kind: pa.DataType) -> pa.Array:
    if kind == TIMESTAMP:
        values = [dt.datetime.fromisoformat(v) if isinstance(v, str) else v for v in values]
    return pa.array(values, kind)


def assert_same_batch(table: TableDef, rows: Sequence[Mapping[str, Any]]) -> None:
    now, before = record_batch(table, rows), record_batch_before(table, rows)
    assert now.schema == before.schema
    for name in now.schema.names:
        assert now.column(name).equals(before.column(name)), name
        assert now.column(name).to_pylist() == before.column(name).to_pylist(), name


# --------------------------------------------------------------------------- the feed


@pytest.fixture(scope="module")
def feed_rows() -> dict[str, list[dict[str, Any]]]:
    """The rows a simulated feed with every fault stages, by table (silver and DLQ)."""
    tokenizer = Tokenizer(base64.b64decode(Tokenizer.generate_key()))
    config = SimulationConfig(shipments=150, days=1, seed=11, faults=Faults(**dict.fromkeys(FAULT_KINDS, 0.05)))
    by_table: dict[str, list[dict[str, Any]]] = {}
    for line in simulate(config):
        checked = check(line, source_system="file", ingest_time=NOW)
        if isinstance(checked, DeadLetter):
            table, row = dlq_row(protect_dead_letter(checked, tokenizer=tokenizer))
        else:
            staged = stage_event(checked, tokenizer=tokenizer, dims=DimensionSnapshot(), alert_event_types=frozenset())
            table, row = staged.table, staged.row
        by_table.setdefault(table, []).append(row)
    return by_table


def test_the_feed_stages_as_before(feed_rows: dict[str, list[dict[str, Any]]]) -> None:
    assert set(feed_rows) == set(TABLES)  # every silver table and the DLQ
    assert all(type(row) is RowWithJsonText for name, rows in feed_rows.items() if name != "dlq_events" for row in rows)
    for name, rows in feed_rows.items():
        assert_same_batch(TABLES[name], rows)
        assert_same_batch(TABLES[name], [dict(row) for row in rows])  # without the texts: dumped


def test_the_reused_text_is_what_a_dump_writes(feed_rows: dict[str, list[dict[str, Any]]]) -> None:
    for name, rows in feed_rows.items():
        for row in rows:
            if isinstance(row, RowWithJsonText):
                assert row.json_text == orjson.dumps(row[row.json_column]).decode(), name


# --------------------------------------------------------------------------- awkward rows


def _silver(event_id: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_id": event_id,
        "event_type": "shipment.created",
        "event_version": 1,
        "event_time": dt.datetime(2024, 1, 15, 10, 0, 0, 123456, tzinfo=UTC),
        "ingest_time": dt.datetime(2024, 1, 15, 12, 0, 0, 1, tzinfo=UTC),
        "source_system": "file",
        "trace_id": None,
        "shipment_id": "SHP-1",
        "payload": {"shipment_id": "SHP-1", "n": 1.5},
    }
    return row | overrides


BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
AWKWARD: dict[str, list[dict[str, Any]]] = {
    "UTC, the first and last microseconds": [
        _silver("d", event_time=dt.datetime(1, 1, 1, tzinfo=UTC), ingest_time=dt.datetime.max.replace(tzinfo=UTC)),
        _silver("e", event_time=dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        _silver("f", event_time=dt.datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(0), "Z"))),
    ],
    "aware, UTC and not": [
        _silver("a", event_time=dt.datetime(2024, 3, 31, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=45)))),
        _silver("b", event_time=dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=BERLIN)),
        _silver("c", ingest_time=dt.datetime(2024, 10, 27, 2, 30, fold=0, tzinfo=BERLIN)),
        _silver("s", event_time=dt.datetime(2000, 1, 1, tzinfo=dt.timezone(dt.timedelta(microseconds=1)))),
    ],
    "naive (UTC)": [_silver("n", event_time=dt.datetime(2024, 1, 15, 10, 0, 0, 7)), _silver("o")],
    "ISO-8601 texts (rows read back from JSON)": [
        _silver("i", event_time="2024-01-15T10:00:00.000001+00:00", ingest_time="2024-01-15T12:00:00+02:00"),
        _silver("j"),
    ],
    "NULLs and missing keys": [
        _silver("m", event_time=None, payload=None, trace_id="t"),
        {"event_id": "sparse", "extra": 1},
        _silver("p", payload="a string is a JSON string", pii_sealed="sealed"),
    ],
    "a payload with its text, and one without": [
        _silver("q"),
        _silver("r", payload=[1, {"x": None}], event_version=None),
    ],
}


@pytest.mark.parametrize("rows", AWKWARD.values(), ids=AWKWARD.keys())
def test_awkward_rows_stage_as_before(rows: list[dict[str, Any]]) -> None:
    assert_same_batch(SHIPMENTS, rows)


def test_a_row_with_its_json_text_stages_the_text() -> None:
    row = RowWithJsonText(_silver("t"))
    row.json_column, row.json_text = "payload", orjson.dumps(row["payload"]).decode()
    assert_same_batch(SHIPMENTS, [row, _silver("u")])
    assert record_batch(SHIPMENTS, [row]).column("payload").to_pylist() == ['{"shipment_id":"SHP-1","n":1.5}']


def test_an_empty_batch() -> None:
    assert_same_batch(SHIPMENTS, [])


def test_a_row_with_its_json_text_travels_as_its_dict() -> None:
    """Runners may pickle it, the unbounded sink writes it as JSON: the text goes along or is
    dropped, never changed."""
    row = RowWithJsonText(_silver("t"))
    row.json_column, row.json_text = "payload", orjson.dumps(row["payload"]).decode()
    copy = pickle.loads(pickle.dumps(row))
    assert type(copy) is RowWithJsonText and copy == row
    assert (copy.json_column, copy.json_text) == (row.json_column, row.json_text)
    assert orjson.dumps(row) == orjson.dumps(dict(row))


# --------------------------------------------------------------------------- timestamps

_ZONES = st.one_of(
    st.none(),
    st.just(UTC),
    st.timezones(),
    st.builds(
        dt.timezone,
        st.timedeltas(min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23, minutes=59)),
    ),
)


def _arrow_before(values: list[Any]) -> pa.Array | type[Exception]:
    try:
        return column_before(values, TIMESTAMP)
    except (pa.ArrowException, ValueError, OverflowError) as exc:
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.datetimes(timezones=st.just(UTC)), max_size=8))
def test_utc_timestamps_are_what_arrow_made_of_the_datetimes(values: list[dt.datetime]) -> None:
    """The fast path: UTC datetimes, any microsecond of the first to the last year."""
    now = _timestamps(values)
    assert now.type == TIMESTAMP and now.equals(pa.array(values, TIMESTAMP))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.datetimes(timezones=_ZONES)), max_size=8))
def test_timestamps_are_what_arrow_made_of_the_datetimes(values: list[dt.datetime | None]) -> None:
    """Any datetimes (naive, any zone or offset, fold, microsecond, the first and last years),
    NULLs among them."""
    before = _arrow_before(values)
    if isinstance(before, type):  # out of Arrow's range: it still fails
        with pytest.raises(before):
            _timestamps(values)
    else:
        now = _timestamps(values)
        assert now.type == TIMESTAMP and now.equals(before)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.datetimes(timezones=_ZONES)), st.integers(0, 8), st.one_of(st.none(), st.datetimes()))
def test_one_datetime_throughout_is_what_arrow_made_of_it(
    value: dt.datetime | None, copies: int, other: dt.datetime | None
) -> None:
    """The fast path for a batch's ingest time (one datetime object in every row), and the columns
    that only look like it: another value after the copies, an equal datetime that is another object."""
    twin = value.replace() if value is not None else None  # equal, not the same object
    for values in ([value] * copies, [value] * copies + [other], [value] * copies + [twin], [twin, *[value] * copies]):
        before = _arrow_before(values)
        if isinstance(before, type):
            with pytest.raises(before):
                _timestamps(values)
        else:
            now = _timestamps(values)
            assert now.type == TIMESTAMP and now.equals(before)


def test_a_batch_of_one_ingest_time_stages_it_in_every_row() -> None:
    ingest = dt.datetime(2024, 1, 15, 12, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(0), "Z"))  # UTC by another name
    rows = [_silver(str(n), ingest_time=ingest) for n in range(5)]
    assert_same_batch(SHIPMENTS, rows)
    assert record_batch(SHIPMENTS, rows).column("ingest_time").to_pylist() == [ingest.astimezone(UTC)] * 5


def test_rows_kept_a_group_at_a_time_batch_as_before(feed_rows: dict[str, list[dict[str, Any]]]) -> None:
    """TableRows as staging keeps them: each batch holds the rows added since the last one."""
    for name, rows in feed_rows.items():
        kept = TableRows(TABLES[name])
        for start in range(0, len(rows), 97):
            group = rows[start : start + 97]
            assert [kept.add(row) for row in group] == list(range(1, len(group) + 1))
            batch, before = kept.batch(), record_batch_before(TABLES[name], group)
            assert batch.schema == before.schema and batch.equals(before), name
        assert kept.batch().num_rows == 0
