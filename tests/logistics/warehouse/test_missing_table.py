"""A query on a table that does not exist yet is told apart by exception type, on both engines."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from google.api_core.exceptions import Forbidden, NotFound

from logistics.warehouse import is_missing_table
from logistics.warehouse.duckdb_backend import open_duckdb


def _error_of(tmp_path: Path, sql: str) -> BaseException:
    with open_duckdb(tmp_path / "w.duckdb", datasets={}, read_only=False) as warehouse:
        warehouse.execute("CREATE SCHEMA IF NOT EXISTS curated; CREATE TABLE IF NOT EXISTS curated.present (x INT)")
        with pytest.raises(duckdb.Error) as raised:
            warehouse.query(sql)
    return raised.value


def test_a_missing_duckdb_table_or_dataset_is_a_missing_table(tmp_path: Path) -> None:
    assert is_missing_table(_error_of(tmp_path, "SELECT * FROM curated.fact_shipments"))
    assert is_missing_table(_error_of(tmp_path, "SELECT * FROM nowhere.fact_shipments"))


def test_other_duckdb_errors_are_not(tmp_path: Path) -> None:
    assert not is_missing_table(_error_of(tmp_path, "SELECT no_such_column FROM curated.present"))
    assert not is_missing_table(_error_of(tmp_path, "SELECT 1 / CAST('x' AS INT)"))  # a conversion error


def test_bigquerys_not_found_is_a_missing_table_and_forbidden_is_not() -> None:
    assert is_missing_table(NotFound("Not found: Table p:curated.fact_shipments"))
    assert not is_missing_table(Forbidden("Access Denied: Table p:curated.fact_shipments"))
    assert not is_missing_table(RuntimeError("CatalogException"))  # a name is not a type
