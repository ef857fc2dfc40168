-- curated.dim_carrier reduced to one row of violation counts, computed where the data lives (a
-- pandas frame of the whole table would cost more than the build). quality/suites.py expects
-- every count to be 0 and row_count within the bounds of dimension_bounds.sql. No parameters.
--
-- SCD2 invariants: surrogate keys unique, one version per (key, valid_from), exactly one
-- current version per key, current <=> open-ended, and each version ends after it starts,
-- exactly where the key's next version starts (no gap, no overlap).
-- Counts are COUNT(IF(rule broken, 1, NULL)), which is 0 over no rows on every engine
-- (DuckDB's COUNTIF is NULL there, BigQuery's 0).
WITH versions AS (
  SELECT
    d.*,
    LEAD(d.valid_from) OVER (PARTITION BY d.carrier_id ORDER BY d.valid_from) AS next_valid_from
  FROM curated.dim_carrier AS d
),
per_key AS (
  SELECT carrier_id, COUNT(IF(is_current, 1, NULL)) AS current_versions
  FROM curated.dim_carrier
  GROUP BY carrier_id
),
per_start AS (
  SELECT COUNT(*) AS versions
  FROM curated.dim_carrier
  GROUP BY carrier_id, valid_from
)
SELECT
  COUNT(*) AS row_count,
  COUNT(IF(d.carrier_sk IS NULL, 1, NULL)) AS null_carrier_sk,
  COUNT(IF(d.carrier_id IS NULL, 1, NULL)) AS null_carrier_id,
  COUNT(IF(d.valid_from IS NULL, 1, NULL)) AS null_valid_from,
  COUNT(IF(d.is_current IS NULL, 1, NULL)) AS null_is_current,
  COUNT(IF(d.version IS NULL, 1, NULL)) AS null_version,
  COUNT(d.carrier_sk) - COUNT(DISTINCT d.carrier_sk) AS duplicate_carrier_sk,
  (SELECT IFNULL(SUM(versions - 1), 0) FROM per_start) AS duplicate_valid_from,
  (SELECT COUNT(IF(current_versions != 1, 1, NULL)) FROM per_key) AS keys_without_one_current,
  COUNT(IF(d.is_current IS DISTINCT FROM (d.valid_to IS NULL), 1, NULL)) AS current_not_open_ended,
  COUNT(IF(d.valid_to <= d.valid_from, 1, NULL)) AS empty_ranges,
  COUNT(IF(d.valid_to IS DISTINCT FROM d.next_valid_from, 1, NULL)) AS gaps_or_overlaps
FROM versions AS d;
