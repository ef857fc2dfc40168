"""Table definitions come from the generated BigQuery schemas; DuckDB DDL is derived from them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from codegen import GENERATED_DIR
from contracts.generated.catalog import FAMILIES

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
class TableDef:
    dataset: str  # logical dataset: raw | clean
    name: str
    schema: dict[str, Any]  # generated BigQuery table JSON
    lookup_by: tuple[str, ...] = ()  # columns DuckDB indexes (BigQuery clusters on them instead)

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


def _load(dataset: str, name: str, *, lookup_by: tuple[str, ...] = ()) -> TableDef:
    path = GENERATED_DIR / "bigquery" / dataset / f"{name}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    return TableDef(dataset=dataset, name=name, schema=schema, lookup_by=lookup_by)


def silver_tables() -> dict[str, TableDef]:
    """Silver table per family name."""
    return {name: _load("clean", family.silver_table, lookup_by=family.lookup_by) for name, family in FAMILIES.items()}


def dlq_table() -> TableDef:
    return _load("clean", "dlq_events")


def managed_tables() -> list[TableDef]:
    """Every table whose schema the contracts own (gold tables are created by their SQL)."""
    return [*silver_tables().values(), dlq_table(), _load("clean", "event_counts_5m"), _load("raw", "events")]
