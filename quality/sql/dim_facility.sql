-- curated.dim_facility's own rules, beyond the SCD2 invariants every dimension is gated on:
-- quality/summary.py renders those and joins this one row of violation counts onto them,
-- and quality/suites.py expects every count to be 0. No parameters.
-- Counts are COUNT(IF(rule broken, 1, NULL)), which is 0 over no rows on every engine
-- (DuckDB's COUNTIF is NULL there, BigQuery's 0).
SELECT
  -- a facility cannot have negative capacity
  COUNT(IF(d.capacity_per_hour < 0, 1, NULL)) AS negative_capacity_per_hour
FROM curated.dim_facility AS d;
