"""The one row each quality gate validates: the query that reduces a gold table to it.

A table (a partition, or a whole dimension) is reduced in the warehouse to one row: the
row count and totals, and per rule the count of rows breaking it (``duplicate_delivery_id``,
``gaps_or_overlaps``, ...). ``quality.suites`` expects every such count to be 0; a pandas
frame of the rows themselves would cost more than the build.

Most tables' queries are ``quality/sql/<table>.sql``. The SCD2 invariants are the same for
every dimension, so they are rendered here from its :class:`dags.gold.tables.Scd2` (key,
surrogate key), and ``quality/sql/<dimension>.sql`` holds only that dimension's own rules,
where it has any. ``logistics gold-sql dim_driver --quality`` prints a table's whole query.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from dags.gold.tables import GoldTable
from logistics.warehouse import sql_file

QUALITY_SQL = Path(__file__).resolve().parent / "sql"

# Invariants: surrogate keys unique, one version per (key, valid_from), exactly one current
# version per key, current <=> open-ended, and each version ends after it starts, exactly
# where the key's next version starts (no gap, no overlap).
_SCD2_INVARIANTS = Template(
    """-- $name: the SCD2 invariants every dimension is gated on (quality/summary.py)
-- Counts are COUNT(IF(rule broken, 1, NULL)), which is 0 over no rows on every engine
-- (DuckDB's COUNTIF is NULL there, BigQuery's 0).
WITH versions AS (
  SELECT
    d.*,
    LEAD(d.valid_from) OVER (PARTITION BY d.$key ORDER BY d.valid_from) AS next_valid_from
  FROM $name AS d
),
per_key AS (
  SELECT $key, COUNT(IF(is_current, 1, NULL)) AS current_versions
  FROM $name
  GROUP BY $key
),
per_start AS (
  SELECT COUNT(*) AS versions
  FROM $name
  GROUP BY $key, valid_from
),
invariants AS (
  SELECT
    COUNT(*) AS row_count,
    COUNT(IF(d.$surrogate IS NULL, 1, NULL)) AS null_$surrogate,
    COUNT(IF(d.$key IS NULL, 1, NULL)) AS null_$key,
    COUNT(IF(d.valid_from IS NULL, 1, NULL)) AS null_valid_from,
    COUNT(IF(d.is_current IS NULL, 1, NULL)) AS null_is_current,
    COUNT(IF(d.version IS NULL, 1, NULL)) AS null_version,
    COUNT(d.$surrogate) - COUNT(DISTINCT d.$surrogate) AS duplicate_$surrogate,
    (SELECT IFNULL(SUM(versions - 1), 0) FROM per_start) AS duplicate_valid_from,
    (SELECT COUNT(IF(current_versions != 1, 1, NULL)) FROM per_key) AS keys_without_one_current,
    COUNT(IF(d.is_current IS DISTINCT FROM (d.valid_to IS NULL), 1, NULL)) AS current_not_open_ended,
    COUNT(IF(d.valid_to <= d.valid_from, 1, NULL)) AS empty_ranges,
    COUNT(IF(d.valid_to IS DISTINCT FROM d.next_valid_from, 1, NULL)) AS gaps_or_overlaps
  FROM versions AS d
)
SELECT *
FROM invariants"""
)


def summary_sql(table: GoldTable) -> str:
    """The query reducing ``table`` to its one row (BigQuery dialect, against published names)."""
    own_rules = QUALITY_SQL / f"{table.short_name}.sql"
    if table.scd2 is None:
        return sql_file(own_rules)
    invariants = _SCD2_INVARIANTS.substitute(name=table.name, key=table.scd2.key, surrogate=table.scd2.surrogate)
    if not own_rules.exists():
        return invariants
    # a one-row query joined onto one row; its terminator would end the statement early, and the
    # newline before the closing parenthesis ends any comment on its last line
    return f"{invariants}\nCROSS JOIN (\n{sql_file(own_rules).strip().removesuffix(';')}\n) AS own_rules"
