"""DuckDBWarehouse.transaction: all or nothing, on one DuckDB thread, the connection's threads restored."""

from __future__ import annotations

from pathlib import Path

import pytest

from logistics.settings import BigQuerySettings
from logistics.warehouse.duckdb_backend import DuckDBWarehouse, open_duckdb


def _threads(wh: DuckDBWarehouse) -> int:
    return int(wh.query("SELECT current_setting('threads') AS n")[0]["n"])


def test_writes_run_on_one_thread_and_the_setting_comes_back(tmp_path: Path) -> None:
    with open_duckdb(tmp_path / "w.duckdb", datasets=BigQuerySettings().datasets, read_only=False) as wh:
        wh.execute("SET threads = 3")
        wh.execute("CREATE TABLE t (x INTEGER)")
        with wh.transaction():
            assert _threads(wh) == 1
            wh.execute("INSERT INTO t VALUES (1)")
            with wh.transaction():  # a nested block joins the outer one
                wh.execute("INSERT INTO t VALUES (2)")
            assert _threads(wh) == 1
        assert _threads(wh) == 3
        with pytest.raises(ValueError, match="undo"), wh.transaction():
            wh.execute("INSERT INTO t VALUES (3)")
            raise ValueError("undo")
        assert _threads(wh) == 3
        assert wh.query("SELECT x FROM t ORDER BY x") == [{"x": 1}, {"x": 2}]
