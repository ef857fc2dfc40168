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

    @property
    def columns(self) -> list[str]:
        return [f["name"] for f in self.schema["fields"]]

    def duckdb_columns(self) -> dict[str, str]:
        return {f["name"]: _BQ_TO_DUCKDB[f["type"]] for f in self.schema["fields"]}

    def duckdb_ddl(self, physical_dataset: str) -> str:
        cols = ", ".join(
            f'"{f["name"]}" {_BQ_TO_DUCKDB[f["type"]]}{" NOT NULL" if f.get("mode") == "REQUIRED" else ""}'
            for f in self.schema["fields"]
        )
        return f'CREATE TABLE IF NOT EXISTS "{physical_dataset}"."{self.name}" ({cols})'


def _load(dataset: str, name: str) -> TableDef:
    path = GENERATED_DIR / "bigquery" / dataset / f"{name}.json"
    return TableDef(dataset=dataset, name=name, schema=json.loads(path.read_text(encoding="utf-8")))


def silver_tables() -> dict[str, TableDef]:
    """Silver table per family name."""
    return {name: _load("clean", family.silver_table) for name, family in FAMILIES.items()}


def dlq_table() -> TableDef:
    return _load("clean", "dlq_events")


def managed_tables() -> list[TableDef]:
    """Every table whose schema the contracts own (gold tables are created by their SQL)."""
    return [*silver_tables().values(), dlq_table(), _load("clean", "event_counts_5m"), _load("raw", "events")]
