"""Table definitions come from the generated BigQuery schemas; DuckDB DDL is derived from them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from contracts.generated.catalog import FAMILIES, SUBJECTS
from contracts.registry import GENERATED_DIR

_BQ_TO_DUCKDB = {
    "STRING": "VARCHAR",
    "INT64": "BIGINT",
    "INTEGER": "BIGINT",
    "FLOAT64": "DOUBLE",
    "FLOAT": "DOUBLE",
    "BOOL": "BOOLEAN",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMPTZ",
    "DATE": "DATE",
    "JSON": "JSON",
    "BYTES": "BLOB",
    "NUMERIC": "DECIMAL(38, 9)",
}


# Per-event ids, stored as they are in DuckDB: each value is unique, so the dictionary half of
# DuckDB's string compression (DICT_FSST) never hits, and compressing them at a load's checkpoint
# cost ~0.65 µs per event (of ~4.7 µs for the whole commit) to save ~11% of the file; a read that
# fetches them decodes nothing (docs/architecture.md, sinks).
UNCOMPRESSED_IN_DUCKDB = frozenset({"event_id", "trace_id"})


@dataclass(frozen=True)
class KeyWindow:
    """Where the earlier rows of a load's keys can be: a ``column`` that a key's rows always share.

    A load then compares its keys only with rows whose ``column`` lies within ``margin`` of the
    staged rows' range (the rest of the table cannot hold them): BigQuery prunes every other
    partition, DuckDB skips every other row group.
    """

    column: str
    margin: dt.timedelta = dt.timedelta(0)

    def around(self, first: dt.datetime, last: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The range of ``column`` to search, for staged rows whose ``column`` spans [first, last]."""
        return first - self.margin, last + self.margin


@dataclass(frozen=True)
class SameEventWithin:
    """Rows sharing a key are one event only while their event times lie within the subject's
    dedupe TTL (the pipeline's dedupe rule, :mod:`pipeline.transforms.dedupe`): a load inserts a
    row unless a row with its key lies that close in ``time_column``."""

    time_column: str
    type_column: str
    hours_by_type: tuple[tuple[str, int], ...]  # every subject of the family (only they reach its table)

    def hours_sql(self, type_column: str) -> str:
        """The TTL in hours of a row whose event type is ``type_column`` (a quoted column reference),
        as SQL that reads the same in both dialects."""
        cases = " ".join(f"WHEN '{kind}' THEN {hours}" for kind, hours in self.hours_by_type)
        widest = max(hours for _, hours in self.hours_by_type)
        return f"(CASE {type_column} {cases} ELSE {widest} END)"


@dataclass(frozen=True)
class TableDef:
    dataset: str  # logical dataset: raw | clean
    name: str
    schema: dict[str, Any]  # generated BigQuery table JSON
    key: str = "event_id"  # what names a row: a load never inserts a second row with the same key
    lookup_by: tuple[str, ...] = ()  # columns DuckDB indexes (BigQuery clusters on them instead)
    key_window: KeyWindow | None = None  # None: a load compares its keys with the whole table
    same_event_within: SameEventWithin | None = None  # silver: the key names one event only within the TTL
    # An upsert table: a row replaces the row with its key when its ``newer_by`` value is not older
    # (event_counts_5m: the latest pane of a window wins). None: insert-if-absent.
    newer_by: str | None = None

    @property
    def columns(self) -> list[str]:
        return [f["name"] for f in self.schema["fields"]]

    def duckdb_columns(self) -> dict[str, str]:
        return {f["name"]: _BQ_TO_DUCKDB[f["type"]] for f in self.schema["fields"]}

    def added_columns(self, existing: set[str]) -> list[dict[str, Any]]:
        """Nullable columns of the generated schema an existing table lacks (a schema that grew,
        e.g. ``pii_sealed``): added in place, since earlier rows simply have no value for them."""
        return [f for f in self.schema["fields"] if f["name"] not in existing and f.get("mode") != "REQUIRED"]

    def duckdb_ddl(self, physical_dataset: str) -> list[str]:
        """The table, then an index per lookup column (a point read then costs the same at any table size)."""
        cols = ", ".join(
            f'"{f["name"]}" {_BQ_TO_DUCKDB[f["type"]]}{" NOT NULL" if f.get("mode") == "REQUIRED" else ""}'
            f"{' USING COMPRESSION uncompressed' if f['name'] in UNCOMPRESSED_IN_DUCKDB else ''}"
            for f in self.schema["fields"]
        )
        table = f'"{physical_dataset}"."{self.name}"'
        return [
            f"CREATE TABLE IF NOT EXISTS {table} ({cols})",
            *(f'CREATE INDEX IF NOT EXISTS "{self.name}__{c}" ON {table} ("{c}")' for c in self.lookup_by),
        ]


def _load(dataset: str, name: str, **definition: Any) -> TableDef:
    path = GENERATED_DIR / "bigquery" / dataset / f"{name}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    return TableDef(dataset=dataset, name=name, schema=schema, **definition)


def _event_window(family: str) -> KeyWindow:
    """An event's id always travels with its event_time (the envelope is immutable); the margin is
    the family's dedupe TTL, so a producer that re-stamps a retry is caught as far as the pipeline's
    own dedupe would catch it."""
    ttl = max((s.dedupe_ttl_hours for s in SUBJECTS.values() if s.family == family), default=0)
    return KeyWindow(column=FAMILIES[family].partition_field, margin=dt.timedelta(hours=ttl))


def _same_event_within(family: str) -> SameEventWithin:
    subjects = sorted((s.name, s.dedupe_ttl_hours) for s in SUBJECTS.values() if s.family == family)
    return SameEventWithin(
        time_column=FAMILIES[family].partition_field,
        type_column="event_type",
        hours_by_type=tuple(subjects),
    )


def silver_tables() -> dict[str, TableDef]:
    """Silver table per family name."""
    return {
        name: _load(
            "clean",
            family.silver_table,
            lookup_by=family.lookup_by,
            key_window=_event_window(name),
            same_event_within=_same_event_within(name),
        )
        for name, family in FAMILIES.items()
    }


def dlq_table() -> TableDef:
    # No window: a dead letter keeps its id across runs but is stamped with each run's failed_time.
    return _load("clean", "dlq_events", key="dlq_id")


def event_counts_table() -> TableDef:
    # One row per (window, event type, facility), named by count_id; the latest count wins.
    return _load(
        "clean", "event_counts_5m", key="count_id", key_window=KeyWindow(column="window_start"), newer_by="computed_at"
    )


def pipeline_ledger_table() -> TableDef:
    # One row per committed bounded run; a run's id is new each time, so a row is never rewritten.
    return _load("clean", "pipeline_ledger", key="run_id")


def managed_tables() -> list[TableDef]:
    """Every table whose schema the contracts own (gold tables are created by their SQL)."""
    return [
        *silver_tables().values(),
        dlq_table(),
        event_counts_table(),
        pipeline_ledger_table(),
        _load("raw", "events"),
    ]
