-- curated.dim_driver reduced to one row of violation counts, computed where the data lives (a
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
    LEAD(d.valid_from) OVER (PARTITION BY d.driver_id ORDER BY d.valid_from) AS next_valid_from
  FROM curated.dim_driver AS d
),
per_key AS (
  SELECT driver_id, COUNT(IF(is_current, 1, NULL)) AS current_versions
  FROM curated.dim_driver
  GROUP BY driver_id
),
per_start AS (
  SELECT COUNT(*) AS versions
  FROM curated.dim_driver
  GROUP BY driver_id, valid_from
)
SELECT
  COUNT(*) AS row_count,
  COUNT(IF(d.driver_sk IS NULL, 1, NULL)) AS null_driver_sk,
  COUNT(IF(d.driver_id IS NULL, 1, NULL)) AS null_driver_id,
  COUNT(IF(d.valid_from IS NULL, 1, NULL)) AS null_valid_from,
  COUNT(IF(d.is_current IS NULL, 1, NULL)) AS null_is_current,
  COUNT(IF(d.version IS NULL, 1, NULL)) AS null_version,
  COUNT(d.driver_sk) - COUNT(DISTINCT d.driver_sk) AS duplicate_driver_sk,
  (SELECT IFNULL(SUM(versions - 1), 0) FROM per_start) AS duplicate_valid_from,
  (SELECT COUNT(IF(current_versions != 1, 1, NULL)) FROM per_key) AS keys_without_one_current,
  COUNT(IF(d.is_current IS DISTINCT FROM (d.valid_to IS NULL), 1, NULL)) AS current_not_open_ended,
  COUNT(IF(d.valid_to <= d.valid_from, 1, NULL)) AS empty_ranges,
  COUNT(IF(d.valid_to IS DISTINCT FROM d.next_valid_from, 1, NULL)) AS gaps_or_overlaps,
  -- drivers -> dim_carrier (the same build's staged dimension when gating staging)
  COUNT(IF(d.carrier_id IS NOT NULL AND carrier.carrier_id IS NULL, 1, NULL)) AS orphan_carrier_id
FROM versions AS d
LEFT JOIN (SELECT DISTINCT carrier_id FROM curated.dim_carrier) AS carrier ON carrier.carrier_id = d.carrier_id;
