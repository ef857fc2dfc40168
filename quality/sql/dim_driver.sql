-- curated.dim_driver's own rules, beyond the SCD2 invariants every dimension is gated on:
-- quality/summary.py renders those and joins this one row of violation counts onto them,
-- and quality/suites.py expects every count to be 0. No parameters.
-- Counts are COUNT(IF(rule broken, 1, NULL)), which is 0 over no rows on every engine
-- (DuckDB's COUNTIF is NULL there, BigQuery's 0).
SELECT
  -- drivers -> dim_carrier (the same build's staged dimension when gating staging)
  COUNT(IF(d.carrier_id IS NOT NULL AND carrier.carrier_id IS NULL, 1, NULL)) AS orphan_carrier_id
FROM curated.dim_driver AS d
LEFT JOIN (SELECT DISTINCT carrier_id FROM curated.dim_carrier) AS carrier ON carrier.carrier_id = d.carrier_id;
