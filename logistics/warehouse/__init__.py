"""The warehouse adapter: DuckDB (embedded default) or BigQuery, chosen by configuration.

SQL is written once in BigQuery's dialect against logical datasets (``clean``,
``curated``, ...) and rendered for the configured engine. Use it as a short-lived
context::

    with connect(settings, read_only=True) as wh:
        rows = wh.query(SHIPMENT_TIMELINE_SQL, {"shipment_id": "SHP-1"})

:func:`connect` is the factory. The backends are public modules for code that manages its own
connection (the API's snapshots): :mod:`logistics.warehouse.duckdb_backend` and
:mod:`logistics.warehouse.bigquery_backend`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from logistics.settings import Settings
from logistics.warehouse._schema import (
    TableDef,
    dlq_table,
    event_counts_table,
    managed_tables,
    pipeline_ledger_table,
    silver_tables,
)
from logistics.warehouse._sql import Renames, SqlTranspileError, prepare

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
    def ensure_tables(self) -> None: ...
    def load_parquet_files(self, table: TableDef, files: Sequence[Path | str]) -> tuple[int, int]:
        """Write rows from staged Parquet files (typed by :func:`~logistics.warehouse.columnar.arrow_schema`)
        under the table's key rule (``TableDef.key``: insert-if-absent, or replace-if-newer for an
        upsert table), once per key among the files: returns ``(written, already_present)``, so a
        replay writes nothing. Bulk loads (bounded runs)."""
        ...

    def merge_rows(self, table: TableDef, rows: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
        """:meth:`load_parquet_files` for rows in memory (the streaming sinks' small, frequent batches)."""
        ...

    def merge_query(self, table: TableDef, sql: str, params: Mapping[str, Any] | None = None) -> tuple[int, int]:
        """:meth:`merge_rows` for the rows of a SELECT of the table's columns (``sql`` as :meth:`query`
        takes it), computed and written inside the engine: no row travels through Python."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """Writes inside commit together (DuckDB); BigQuery commits each statement on its own."""
        ...


@contextmanager
def connect(settings: Settings, *, read_only: bool = False) -> Iterator[Warehouse]:
    datasets = settings.bigquery.datasets
    if settings.warehouse.backend == "bigquery":
        from logistics.warehouse.bigquery_backend import BigQueryWarehouse

        client = _bigquery_client(settings)
        bq = BigQueryWarehouse(client, project=settings.gcp.project_id, datasets=datasets)
        try:
            yield bq
        finally:
            bq.close()
        return
    from logistics.warehouse.duckdb_backend import open_duckdb

    with open_duckdb(
        settings.storage.duckdb_path, datasets=datasets, read_only=read_only, bronze=settings.storage.bronze
    ) as wh:
        yield wh


def _bigquery_client(settings: Settings) -> Any:
    from google.cloud import bigquery

    emulator = settings.bigquery.emulator_host
    if emulator is None:
        return bigquery.Client(project=settings.gcp.project_id)
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    # An emulator takes no credentials; asking for them would go looking for a metadata server.
    return bigquery.Client(
        project=settings.gcp.project_id,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=emulator),
    )


def is_missing_table(exc: BaseException) -> bool:
    """Whether ``exc`` is the engine saying a table the SQL reads does not exist (yet): gold tables
    appear once the marts DAG ran. DuckDB raises a ``CatalogException``, BigQuery a ``NotFound``."""
    import duckdb
    from google.api_core.exceptions import NotFound

    return isinstance(exc, duckdb.CatalogException | NotFound)


def sql_file(path: Path) -> str:
    return path.read_text(encoding="utf-8")


__all__ = [
    "Renames",
    "SqlTranspileError",
    "TableDef",
    "Warehouse",
    "connect",
    "dlq_table",
    "event_counts_table",
    "is_missing_table",
    "managed_tables",
    "pipeline_ledger_table",
    "prepare",
    "silver_tables",
    "sql_file",
]
