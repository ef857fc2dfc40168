"""The warehouse adapter: DuckDB (embedded default) or BigQuery, chosen by configuration.

SQL is written once in BigQuery's dialect against logical datasets (``clean``,
``curated``, ...) and rendered for the configured engine. Use it as a short-lived
context::

    with connect(settings, read_only=True) as wh:
        rows = wh.query(SHIPMENT_TIMELINE_SQL, {"shipment_id": "SHP-1"})
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from logistics.settings import Settings
from logistics.warehouse._schema import TableDef, dlq_table, managed_tables, silver_tables
from logistics.warehouse._sql import Renames, SqlTranspileError, prepare

if TYPE_CHECKING:
    import pandas as pd

SQL_DIRS = ("dags/sql", "graphql_api/sql", "quality/sql")


class Warehouse(Protocol):
    dialect: str
    statements_run: int

    def physical(self, dataset: str) -> str: ...
    def render(self, sql: str, *, renames: Renames = ()) -> str: ...
    def query(
        self, sql: str, params: Mapping[str, Any] | None = None, *, renames: Renames = ()
    ) -> list[dict[str, Any]]: ...
    def execute(self, sql: str, params: Mapping[str, Any] | None = None, *, renames: Renames = ()) -> None: ...
    def dataframe(
        self, sql: str, params: Mapping[str, Any] | None = None, *, renames: Renames = ()
    ) -> pd.DataFrame: ...
    def ensure_tables(self) -> None: ...


@contextmanager
def connect(settings: Settings, *, read_only: bool = False) -> Iterator[Warehouse]:
    datasets = settings.bigquery.datasets
    if settings.warehouse.backend == "bigquery":
        from google.cloud import bigquery

        from logistics.warehouse._bigquery import BigQueryWarehouse

        client = bigquery.Client(project=settings.gcp.project_id)
        bq = BigQueryWarehouse(client, project=settings.gcp.project_id, datasets=datasets)
        try:
            yield bq
        finally:
            bq.close()
        return
    from logistics.warehouse._duckdb import open_duckdb

    with open_duckdb(settings.storage.duckdb_path, datasets=datasets, read_only=read_only) as wh:
        yield wh


def sql_file(path: Path) -> str:
    return path.read_text(encoding="utf-8")


__all__ = [
    "Renames",
    "SqlTranspileError",
    "TableDef",
    "Warehouse",
    "connect",
    "dlq_table",
    "managed_tables",
    "prepare",
    "silver_tables",
    "sql_file",
]
