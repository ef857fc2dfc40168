"""Reference data shipped with the code (``dags/seeds/*.csv``), loaded whole on every build."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from dags.gold.tables import SEED_CARRIERS_SQL
from logistics.warehouse import Warehouse, sql_file

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
CARRIERS_CSV = SEEDS_DIR / "carriers.csv"

_INSERT_CARRIER = """
INSERT INTO curated.seed_carriers (carrier_id, name, scac, service_mode, hq_region, effective_from)
VALUES (@carrier_id, @name, @scac, @service_mode, @hq_region, @effective_from)
"""


def read_carriers(path: Path = CARRIERS_CSV) -> list[dict[str, object]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows: list[dict[str, object]] = []
        for row in csv.DictReader(fh):
            effective = dt.datetime.fromisoformat(row["effective_from"].replace("Z", "+00:00"))
            rows.append({**row, "effective_from": effective.astimezone(dt.UTC)})
    return rows


def load_carriers(warehouse: Warehouse, *, path: Path = CARRIERS_CSV) -> int:
    """Replace ``curated.seed_carriers`` with the CSV's rows; return how many were loaded."""
    rows = read_carriers(path)
    warehouse.execute(sql_file(SEED_CARRIERS_SQL))
    for row in rows:  # a handful of rows: one bound INSERT each keeps values out of the SQL text
        warehouse.execute(_INSERT_CARRIER, row)
    return len(rows)
