"""The versioning every SCD Type 2 dimension shares, rendered once per dimension.

Versions are derived, never patched: every accepted change lands once in an append-only
change log (``curated.dim_<name>_changes``), and the dimension is recomputed from the whole
log. So a late or out-of-order change slots into its place in history, several changes of
one key in one run each become a version, a re-run recomputes the same rows, and history
survives silver's retention (the log keeps what silver drops).

A dimension's own file (``dags/sql/curated/dim_<name>.sql``) creates its tables and stages
the changes its source has that the log does not yet (``<change log>__staging``): where its
attributes come from is what differs between dimensions, with the key and ``carry_forward``
(declared in ``logistics.gold.tables``). The statement rendered here runs right after that file
and writes ``<dimension>__staging`` from the log plus those changes; the publish step swaps
both in after the gate. ``logistics gold-sql dim_facility`` prints a dimension's whole SQL.
"""

from __future__ import annotations

from functools import cache
from string import Template

from logistics.gold.tables import STAGING_SUFFIX, GoldTable, Scd2

# the columns every SCD2 dimension ends with, after its surrogate key, key and attributes
VALIDITY_COLUMNS = ("valid_from", "valid_to", "is_current", "version")
# the columns every change log has besides the key and the attributes
CHANGE_COLUMNS = ("change_id", "changed_at", "ingest_time", "change_kind")
# change_kind: 'set' (or NULL, logged before the column existed) states attributes at its instant;
# 'retract' withdraws the key's instant (its source no longer has it: the version before runs on);
# 'close' ends the key's current version (its source deleted the key). The latest ingested change
# of an instant decides it, so a later 'set' brings a retracted instant or a closed key back.

_VERSIONS = Template(
    """-- $name: SCD Type 2 versions recomputed from the whole change log (logistics/gold/scd2.py)
CREATE OR REPLACE TABLE $staging AS
WITH changes AS (
  SELECT $change_columns
  FROM $change_log
  UNION ALL
  SELECT $change_columns
  FROM $change_log_staging
),
-- an instant whose latest change retracts it is no part of the history
live_changes AS (
  SELECT *
  FROM changes
  WHERE TRUE
  QUALIFY IFNULL(FIRST_VALUE(change_kind) OVER (
    PARTITION BY $key, changed_at ORDER BY ingest_time DESC, change_id DESC
  ), 'set') != 'retract'
),$carry_forward
-- several changes at the same instant make one version: the last one ingested wins
instants AS (
  SELECT *
  FROM $latest_changes
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY $key, changed_at ORDER BY ingest_time DESC, change_id DESC) = 1
),
fingerprinted AS (
  SELECT
    *,
    TO_HEX(MD5(CONCAT(
      IFNULL(change_kind, 'set'), '|',
      $attributes_hashed
    ))) AS attributes_hash
  FROM instants
),
-- a change that restates the current values (a re-sent event) is not a new version
versions AS (
  SELECT *
  FROM fingerprinted
  WHERE TRUE
  QUALIFY attributes_hash IS DISTINCT FROM LAG(attributes_hash) OVER (PARTITION BY $key ORDER BY changed_at)
),
-- a version ends where the next one starts, or where a close ends the key (a close is no version)
bounded AS (
  SELECT *, LEAD(changed_at) OVER (PARTITION BY $key ORDER BY changed_at) AS ends_at
  FROM versions
)
SELECT
  TO_HEX(MD5(CONCAT($key, '|', CAST(UNIX_MICROS(changed_at) AS STRING)))) AS $surrogate,
  $key,
  $attributes,
  changed_at AS valid_from,
  ends_at AS valid_to,
  ends_at IS NULL AS is_current,
  ROW_NUMBER() OVER (PARTITION BY $key ORDER BY changed_at) AS version
FROM bounded
WHERE IFNULL(change_kind, 'set') != 'close';
"""
)

# Scd2.carry_forward: a change stating only some attributes (NULL for the rest) first takes
# the key's latest known value of each attribute at its instant.
_CARRY_FORWARD = Template(
    """
-- each change sees the latest known value of every attribute at its instant
filled AS (
  SELECT
    $key,
    changed_at,
    ingest_time,
    change_id,
    change_kind,
    $attributes_filled
  FROM live_changes
  WINDOW history AS (
    PARTITION BY $key ORDER BY changed_at, ingest_time, change_id
    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
  )
),"""
)


def attributes(table: GoldTable) -> dict[str, str]:
    """The tracked attributes of an SCD2 dimension with their types: its columns between key and validity.

    Raises ``ValueError`` when the change log does not log exactly those attributes.
    """
    scd2 = spec_of(table)
    tracked = {c: t for c, t in table.column_types.items() if c not in (scd2.surrogate, scd2.key, *VALIDITY_COLUMNS)}
    logged = [c for c in table.change_log_columns if c not in (scd2.key, *CHANGE_COLUMNS)]
    if list(tracked) != logged:
        raise ValueError(
            f"{table.name} tracks {list(tracked)} but {scd2.change_log} logs {logged}: "
            f"both tables in {table.sql_path.name} must list the same attributes in the same order"
        )
    return tracked


@cache
def versions_sql(table: GoldTable) -> str:
    """``CREATE OR REPLACE TABLE <dimension>__staging AS ...``: every version of every key, from the log."""
    scd2 = spec_of(table)
    tracked = attributes(table)
    hashed = [f"IFNULL({c}, '~')" if t == "STRING" else f"IFNULL(CAST({c} AS STRING), '~')" for c, t in tracked.items()]
    carry_forward = ""
    if scd2.carry_forward:
        carry_forward = _CARRY_FORWARD.substitute(
            key=scd2.key,
            attributes_filled=",\n    ".join(f"LAST_VALUE({c} IGNORE NULLS) OVER history AS {c}" for c in tracked),
        )
    return _VERSIONS.substitute(
        name=table.name,
        staging=table.staging,
        change_log=scd2.change_log,
        change_log_staging=scd2.change_log + STAGING_SUFFIX,
        change_columns=", ".join(table.change_log_columns),
        carry_forward=carry_forward,
        latest_changes="filled" if scd2.carry_forward else "live_changes",
        key=scd2.key,
        surrogate=scd2.surrogate,
        attributes_hashed=", '|',\n      ".join(hashed),
        attributes=",\n  ".join(tracked),
    )


def spec_of(table: GoldTable) -> Scd2:
    """``table``'s SCD2 spec; ``ValueError`` for a table that is not an SCD2 dimension."""
    if table.scd2 is None:
        raise ValueError(f"{table.name} is not an SCD2 dimension")
    return table.scd2
