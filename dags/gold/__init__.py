"""Gold builds: each one is a SQL file under ``dags/sql/curated`` run for one day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from logistics.warehouse import Warehouse, sql_file

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def build_fact_shipments(warehouse: Warehouse, *, day: dt.date) -> int:
    """Rebuild ``curated.fact_shipments`` for ``day``; return its row count for that day."""
    warehouse.execute(sql_file(SQL_DIR / "curated" / "fact_shipments.sql"), {"day": day})
    rows = warehouse.query("SELECT COUNT(*) AS n FROM curated.fact_shipments WHERE activity_date = @day", {"day": day})
    return int(rows[0]["n"])


__all__ = ["SQL_DIR", "build_fact_shipments"]
