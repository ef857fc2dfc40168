-- curated.dim_facility reduced to one row of violation counts, computed where the data lives (a
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
    LEAD(d.valid_from) OVER (PARTITION BY d.facility_id ORDER BY d.valid_from) AS next_valid_from
  FROM curated.dim_facility AS d
),
per_key AS (
  SELECT facility_id, COUNT(IF(is_current, 1, NULL)) AS current_versions
  FROM curated.dim_facility
  GROUP BY facility_id
),
per_start AS (
  SELECT COUNT(*) AS versions
  FROM curated.dim_facility
  GROUP BY facility_id, valid_from
)
SELECT
  COUNT(*) AS row_count,
  COUNT(IF(d.facility_sk IS NULL, 1, NULL)) AS null_facility_sk,
  COUNT(IF(d.facility_id IS NULL, 1, NULL)) AS null_facility_id,
  COUNT(IF(d.valid_from IS NULL, 1, NULL)) AS null_valid_from,
  COUNT(IF(d.is_current IS NULL, 1, NULL)) AS null_is_current,
  COUNT(IF(d.version IS NULL, 1, NULL)) AS null_version,
  COUNT(d.facility_sk) - COUNT(DISTINCT d.facility_sk) AS duplicate_facility_sk,
  (SELECT IFNULL(SUM(versions - 1), 0) FROM per_start) AS duplicate_valid_from,
  (SELECT COUNT(IF(current_versions != 1, 1, NULL)) FROM per_key) AS keys_without_one_current,
  COUNT(IF(d.is_current IS DISTINCT FROM (d.valid_to IS NULL), 1, NULL)) AS current_not_open_ended,
  COUNT(IF(d.valid_to <= d.valid_from, 1, NULL)) AS empty_ranges,
  COUNT(IF(d.valid_to IS DISTINCT FROM d.next_valid_from, 1, NULL)) AS gaps_or_overlaps,
  -- a facility cannot have negative capacity
  COUNT(IF(d.capacity_per_hour < 0, 1, NULL)) AS negative_capacity_per_hour
FROM versions AS d;
