"""Table definitions come from the generated BigQuery schemas; DuckDB DDL is derived from them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from codegen import GENERATED_DIR
from contracts.generated.catalog import FAMILIES, SUBJECTS

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
class TableDef:
    dataset: str  # logical dataset: raw | clean
    name: str
    schema: dict[str, Any]  # generated BigQuery table JSON
    lookup_by: tuple[str, ...] = ()  # columns DuckDB indexes (BigQuery clusters on them instead)
    key_window: KeyWindow | None = None  # None: a load compares its keys with the whole table

    @property
    def columns(self) -> list[str]:
        return [f["name"] for f in self.schema["fields"]]

    def duckdb_columns(self) -> dict[str, str]:
        return {f["name"]: _BQ_TO_DUCKDB[f["type"]] for f in self.schema["fields"]}

    def duckdb_ddl(self, physical_dataset: str) -> list[str]:
        """The table, then an index per lookup column (a point read then costs the same at any table size)."""
        cols = ", ".join(
            f'"{f["name"]}" {_BQ_TO_DUCKDB[f["type"]]}{" NOT NULL" if f.get("mode") == "REQUIRED" else ""}'
            for f in self.schema["fields"]
        )
        table = f'"{physical_dataset}"."{self.name}"'
        return [
            f"CREATE TABLE IF NOT EXISTS {table} ({cols})",
            *(f'CREATE INDEX IF NOT EXISTS "{self.name}__{c}" ON {table} ("{c}")' for c in self.lookup_by),
        ]

    def duckdb_added_columns(self, physical_dataset: str, existing: set[str]) -> list[str]:
        """``ALTER TABLE`` statements for the NULLABLE columns a table made from an older schema lacks.

        A REQUIRED column is never added this way: rows already there would have no value for it.
        """
        table = f'"{physical_dataset}"."{self.name}"'
        return [
            f'ALTER TABLE {table} ADD COLUMN "{f["name"]}" {_BQ_TO_DUCKDB[f["type"]]}'
            for f in self.schema["fields"]
            if f["name"] not in existing and f.get("mode") != "REQUIRED"
        ]


def _load(dataset: str, name: str, *, lookup_by: tuple[str, ...] = (), key_window: KeyWindow | None = None) -> TableDef:
    path = GENERATED_DIR / "bigquery" / dataset / f"{name}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    return TableDef(dataset=dataset, name=name, schema=schema, lookup_by=lookup_by, key_window=key_window)


def _event_window(family: str) -> KeyWindow:
    """An event's id always travels with its event_time (the envelope is immutable); the margin is
    the family's dedupe TTL, so a producer that re-stamps a retry is caught as far as the pipeline's
    own dedupe would catch it."""
    ttl = max((s.dedupe_ttl_hours for s in SUBJECTS.values() if s.family == family), default=0)
    return KeyWindow(column=FAMILIES[family].partition_field, margin=dt.timedelta(hours=ttl))


def silver_tables() -> dict[str, TableDef]:
    """Silver table per family name."""
    return {
        name: _load("clean", family.silver_table, lookup_by=family.lookup_by, key_window=_event_window(name))
        for name, family in FAMILIES.items()
    }


def dlq_table() -> TableDef:
    # No window: a dead letter keeps its id across runs but is stamped with each run's failed_time.
    return _load("clean", "dlq_events")


def managed_tables() -> list[TableDef]:
    """Every table whose schema the contracts own (gold tables are created by their SQL)."""
    # A 5-minute count's id is a digest of its window and events: the same id, the same window_start.
    counts = _load("clean", "event_counts_5m", key_window=KeyWindow(column="window_start"))
    return [*silver_tables().values(), dlq_table(), counts, _load("raw", "events")]
