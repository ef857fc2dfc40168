"""Reference data shipped with the code (``dags/seeds/*.csv``), loaded whole on every build."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from logistics.errors import LogisticsError
from logistics.gold.tables import SEED_CARRIERS_SQL
from logistics.settings import PROJECT_ROOT
from logistics.warehouse import Warehouse, sql_file

SEEDS_DIR = PROJECT_ROOT / "dags" / "seeds"  # data the DAGs ship with
CARRIERS_CSV = SEEDS_DIR / "carriers.csv"

_INSERT_CARRIER = """
INSERT INTO curated.seed_carriers (carrier_id, name, scac, service_mode, hq_region, effective_from)
VALUES (@carrier_id, @name, @scac, @service_mode, @hq_region, @effective_from)
"""


class SeedError(LogisticsError, ValueError):
    """A seed file that cannot be loaded; the message names the file and line."""


def read_carriers(path: Path = CARRIERS_CSV) -> list[dict[str, object]]:
    """The seed's rows, one per (carrier_id, effective_from): a repeated row counts once, and two
    rows that state one instant differently raise :class:`SeedError` (which one holds is unknowable)."""
    rows: dict[tuple[str, dt.datetime], dict[str, object]] = {}
    where: dict[tuple[str, dt.datetime], int] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            if not row.get("carrier_id"):
                raise SeedError(f"{path.name} line {line}: carrier_id is empty")
            try:
                effective = dt.datetime.fromisoformat((row.get("effective_from") or "").replace("Z", "+00:00"))
            except ValueError:
                raise SeedError(
                    f"{path.name} line {line}: effective_from {row.get('effective_from')!r} is not an ISO timestamp"
                ) from None
            if effective.tzinfo is None:
                raise SeedError(f"{path.name} line {line}: effective_from needs a time zone (e.g. Z)")
            parsed: dict[str, object] = {**row, "effective_from": effective.astimezone(dt.UTC)}
            key = (row["carrier_id"], effective.astimezone(dt.UTC))
            if key in rows and rows[key] != parsed:
                raise SeedError(
                    f"{path.name} lines {where[key]} and {line} state {row['carrier_id']} at "
                    f"{row['effective_from']} differently: keep one"
                )
            rows.setdefault(key, parsed)
            where.setdefault(key, line)
    return list(rows.values())


def load_carriers(warehouse: Warehouse, *, path: Path = CARRIERS_CSV) -> int:
    """Replace ``curated.seed_carriers`` with the CSV's rows; return how many were loaded."""
    rows = read_carriers(path)
    warehouse.execute(sql_file(SEED_CARRIERS_SQL))
    for row in rows:  # a handful of rows: one bound INSERT each keeps values out of the SQL text
        warehouse.execute(_INSERT_CARRIER, row)
    return len(rows)
