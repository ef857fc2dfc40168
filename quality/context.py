"""The Great Expectations side of the gate: its data context, the warehouse as a GX SQL datasource,
and the suites (``quality/suites/<table>.json``, GX's own suite format, edited by hand).

The context is ephemeral (built in code, nothing written into the repository) with two stores
on disk under the quality results folder: validation results (``validations/``) and the Data
Docs site (``data_docs/``, its ``index.html`` lists every validation). Suites are read from
their files on every gate, so an edit takes effect on the next build.

The datasource is GX's SQL datasource, so every expectation runs as SQL where the data lives
(GX's SQL execution engine): on BigQuery through ``sqlalchemy-bigquery`` with the adapter's
client, on DuckDB through ``duckdb-engine`` with a cursor of the adapter's own connection (the
file admits one writer process, and a cursor sees what this build staged). DuckDB drops a
pending result when its connection rolls back, and SQLAlchemy rolls back each connection it
hands back after GX's read, before GX fetches the rows: so the DuckDB connection given to
SQLAlchemy ignores transaction calls (GX only reads; each statement is its own transaction).
See docs/architecture.md, "The quality gate".
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from logistics.warehouse import Warehouse

if TYPE_CHECKING:
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.data_context.abstract_data_context import AbstractDataContext

SUITES_DIR = Path(__file__).resolve().parent / "suites"
# GX's plugins folder: only custom_data_docs/styles, CSS GX inlines into every Data Docs page
PLUGINS_DIR = Path(__file__).resolve().parent / "gx_plugins"
SITE_NAME = "gold_quality"
DATASOURCE_NAME = "warehouse"
# the Data Docs index lists this many of the latest validations (building it reads each one,
# once per build); older pages stay on disk
INDEX_VALIDATIONS = 200


def suite_file(table_short_name: str) -> Path:
    return SUITES_DIR / f"{table_short_name}.json"


def read_suite(table_short_name: str) -> dict[str, Any]:
    """A suite file as GX's suite dict; ``KeyError`` naming the file when there is none."""
    path = suite_file(table_short_name)
    if not path.exists():
        raise KeyError(f"no quality suite for {table_short_name}: expected {path}")
    suite: dict[str, Any] = orjson.loads(path.read_bytes())
    return suite


def data_context(results_dir: Path) -> AbstractDataContext:
    """An ephemeral GX context whose validation results and Data Docs live under ``results_dir``."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, ProgressBarsConfig

    import quality.unexpected_rows  # noqa: F401  (registers expect_no_unexpected_rows with GX)

    def on_disk(folder: Path) -> dict[str, Any]:
        return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)}

    in_memory = {"class_name": "InMemoryStoreBackend"}
    config = DataContextConfig(
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        stores={
            "expectations_store": {"class_name": "ExpectationsStore", "store_backend": in_memory},
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": on_disk(results_dir / "validations"),
            },
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": in_memory},
            "validation_definition_store": {"class_name": "ValidationDefinitionStore", "store_backend": in_memory},
        },
        data_docs_sites={
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": on_disk(results_dir / "data_docs"),
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "validation_results_limit": INDEX_VALIDATIONS,
                },
            }
        },
        plugins_directory=str(PLUGINS_DIR),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def load_suite(context: AbstractDataContext, table_short_name: str) -> ExpectationSuite:
    """The table's suite from its file, added to ``context`` (replacing an earlier copy)."""
    import great_expectations as gx

    body = read_suite(table_short_name)
    suite = gx.ExpectationSuite(
        name=table_short_name,
        expectations=[_expectation(e) for e in body.get("expectations", [])],
        meta=body.get("meta") or {},
    )
    if any(known.name == table_short_name for known in context.suites.all()):
        context.suites.delete(table_short_name)
    return context.suites.add(suite)


def _expectation(config: dict[str, Any]) -> Any:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    kept = {k: config[k] for k in ("type", "kwargs", "meta", "description", "severity") if k in config}
    return ExpectationConfiguration(**kept).to_domain_obj()


@contextmanager
def warehouse_datasource(context: AbstractDataContext, warehouse: Warehouse) -> Iterator[Any]:
    """``warehouse`` as GX's SQL datasource for the duration of the block."""
    from logistics.warehouse.bigquery_backend import BigQueryWarehouse
    from logistics.warehouse.duckdb_backend import DuckDBWarehouse

    if isinstance(warehouse, DuckDBWarehouse):
        import duckdb_engine

        class _Connection(duckdb_engine.ConnectionWrapper):
            # see the module docstring: a rollback would drop the result GX is about to fetch
            def begin(self) -> None:
                pass

            def commit(self) -> None:
                pass

            def rollback(self) -> None:
                pass

        connection_string = "duckdb:///:memory:"  # never opened: every connection comes from the creator
        engine_kwargs: dict[str, Any] = {"creator": lambda: _Connection(warehouse.cursor())}
    elif isinstance(warehouse, BigQueryWarehouse):
        connection_string = f"bigquery://{warehouse.project}?user_supplied_client=True"
        engine_kwargs = {"connect_args": {"client": warehouse.client}}
    else:
        raise TypeError(f"no GX datasource for {type(warehouse).__name__}")
    # a query asset is validated in place (no temp-table copy of the partition)
    sources: Any = context.data_sources  # its add_* methods are generated at run time (mypy sees no kwargs)
    source = sources.add_or_update_sql(
        DATASOURCE_NAME, connection_string=connection_string, kwargs=engine_kwargs, create_temp_table=False
    )
    try:
        yield source
    finally:
        context.data_sources.delete(DATASOURCE_NAME)
