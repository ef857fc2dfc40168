"""The gold tables: which SQL file builds each, how it is partitioned, what its columns are.

The SQL file owns the table's shape (its ``CREATE TABLE IF NOT EXISTS`` statement); this
module reads column lists, types and the partition column from that DDL, so publishing copies
columns by name and never drifts from the file. An SCD2 dimension also names its key here
(:class:`Scd2`): the versioning SQL every dimension shares is rendered from it
(``logistics.gold.scd2``), and so are its quality checks (``quality.scd2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp

from logistics.settings import PROJECT_ROOT
from logistics.warehouse import Warehouse

SQL_DIR = PROJECT_ROOT / "dags" / "sql"  # the gold SQL ships with the DAGs (Composer syncs dags/)
STAGING_SUFFIX = "__staging"


@dataclass(frozen=True)
class Scd2:
    """How an SCD Type 2 dimension versions its rows (the tracked attributes come from its DDL)."""

    key: str  # the natural key: one version history per value
    surrogate: str  # one value per version (the key and the version's valid_from, hashed)
    change_log: str  # the append-only log of accepted changes the dimension is recomputed from
    # True when a change may state only some attributes (a capacity change): the others then
    # carry forward from the key's latest change before it, instead of becoming NULL
    carry_forward: bool = False


@dataclass(frozen=True)
class GoldTable:
    """One published gold table (logical name ``dataset.table``) and the file that stages it."""

    name: str
    sql_path: Path
    scd2: Scd2 | None = None  # SCD2 dimensions only

    @property
    def change_log(self) -> str | None:
        """SCD2 dimensions: the append-only change log published with them."""
        return self.scd2.change_log if self.scd2 else None

    @property
    def staging(self) -> str:
        return self.name + STAGING_SUFFIX

    @property
    def short_name(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.column_types)

    @property
    def column_types(self) -> dict[str, str]:
        """``{column: BigQuery type}`` in DDL order."""
        return _ddl(self.sql_path)[self.name][0]

    @property
    def partition_column(self) -> str | None:
        """The DAY partition column; ``None`` for a dimension (published whole)."""
        return _ddl(self.sql_path)[self.name][1]

    @property
    def change_log_columns(self) -> tuple[str, ...]:
        if self.change_log is None:
            return ()
        return tuple(_ddl(self.sql_path)[self.change_log][0])


@cache
def _ddl(path: Path) -> dict[str, tuple[dict[str, str], str | None]]:
    """``{table: ({column: type}, partition column)}`` for every CREATE TABLE with a column list in ``path``."""
    found: dict[str, tuple[dict[str, str], str | None]] = {}
    for statement in sqlglot.parse(path.read_text(encoding="utf-8"), read="bigquery"):
        if not isinstance(statement, exp.Create) or not isinstance(statement.this, exp.Schema):
            continue
        table = statement.this.this
        columns = {
            c.name: c.args["kind"].sql(dialect="bigquery")
            for c in statement.this.expressions
            if isinstance(c, exp.ColumnDef)
        }
        partition = statement.find(exp.PartitionedByProperty)
        found[f"{table.db}.{table.name}"] = (columns, partition.this.name if partition else None)
    return found


def _table(name: str, folder: str, scd2: Scd2 | None = None) -> GoldTable:
    return GoldTable(name=name, sql_path=SQL_DIR / folder / f"{name.split('.')[1]}.sql", scd2=scd2)


DIM_FACILITY = _table(
    "curated.dim_facility",
    "curated",
    # facility.capacity_changed carries only the capacity
    Scd2(key="facility_id", surrogate="facility_sk", change_log="curated.dim_facility_changes", carry_forward=True),
)
DIM_CARRIER = _table(
    "curated.dim_carrier",
    "curated",
    Scd2(key="carrier_id", surrogate="carrier_sk", change_log="curated.dim_carrier_changes"),
)
DIM_DRIVER = _table(
    "curated.dim_driver",
    "curated",
    Scd2(key="driver_id", surrogate="driver_sk", change_log="curated.dim_driver_changes"),
)
FACT_DELIVERIES = _table("curated.fact_deliveries", "curated")
FACT_SHIPMENTS = _table("curated.fact_shipments", "curated")
ML_DELIVERY_FEATURES = _table("features.ml_delivery_features", "features")
GOLD_WATERMARKS = _table("curated.gold_watermarks", "ops")
# silver per event day when reconciliation last brought gold up to date (dags/sql/ops/gold_silver_census.sql)
SILVER_CENSUS = _table("curated.gold_silver_census", "ops")

DIMENSIONS = (DIM_FACILITY, DIM_CARRIER, DIM_DRIVER)
FACTS = (FACT_DELIVERIES, FACT_SHIPMENTS)
FEATURES = (ML_DELIVERY_FEATURES,)
# Every gold table a quality suite gates, in build order (features read staged facts and dims).
GOLD_TABLES = (*DIMENSIONS, *FACTS, *FEATURES)
TABLES_BY_NAME = {t.name: t for t in (*GOLD_TABLES, GOLD_WATERMARKS, SILVER_CENSUS)}
SEED_CARRIERS_SQL = SQL_DIR / "curated" / "seed_carriers.sql"
LATE_PARTITIONS_SQL = SQL_DIR / "ops" / "late_partitions.sql"


def gold_table(name: str) -> GoldTable:
    """Look a table up by ``dataset.table`` or by its bare name (``fact_deliveries``)."""
    for table in TABLES_BY_NAME.values():
        if name in (table.name, table.short_name):
            return table
    known = ", ".join(sorted(t.short_name for t in GOLD_TABLES))
    raise KeyError(f"unknown gold table {name!r} (known: {known})")


def ensure_published_tables(warehouse: Warehouse) -> None:
    """Create every published gold table that does not exist yet (empty), for readers and gates."""
    for table in TABLES_BY_NAME.values():
        for statement in _create_if_missing(table.sql_path):
            warehouse.execute(statement)


@cache
def _create_if_missing(path: Path) -> tuple[str, ...]:
    # parsed once per process: every build calls ensure_published_tables, and parsing the
    # files again each time cost more than creating nothing
    return tuple(
        statement.sql(dialect="bigquery")
        for statement in sqlglot.parse(path.read_text(encoding="utf-8"), read="bigquery")
        # CREATE ... IF NOT EXISTS, and ALTER TABLE ... ADD COLUMN IF NOT EXISTS for tables older than a column
        if (isinstance(statement, exp.Create) and statement.args.get("exists")) or isinstance(statement, exp.Alter)
    )
