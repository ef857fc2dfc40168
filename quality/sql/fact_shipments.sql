-- One partition of curated.fact_shipments reduced to one row of violation counts and totals.
-- quality/suites.py expects every violation count to be 0 and the totals to match silver.
-- Parameter: @day (DATE).
-- Counts are COUNT(IF(rule broken, 1, NULL)), which is 0 over no rows on every engine
-- (DuckDB's COUNTIF is NULL there, BigQuery's 0).
WITH part AS (
  SELECT *
  FROM curated.fact_shipments
  WHERE activity_date = @day
),
per_grain AS (  -- NULL facility/carrier are a grain of their own (GROUP BY keeps them together)
  SELECT COUNT(*) AS rows_in_grain
  FROM part
  GROUP BY activity_date, facility_id, carrier_id
)
SELECT
  COUNT(*) AS row_count,
  COUNT(IF(f.activity_date IS NULL, 1, NULL)) AS null_activity_date,
  COUNT(IF(f.created_count IS NULL, 1, NULL)) AS null_created_count,
  COUNT(IF(f.delivered_count IS NULL, 1, NULL)) AS null_delivered_count,
  COUNT(IF(f.built_at IS NULL, 1, NULL)) AS null_built_at,
  (SELECT IFNULL(SUM(rows_in_grain - 1), 0) FROM per_grain) AS duplicate_grain,
  COUNT(IF(f.avg_transit_hours < 0, 1, NULL)) AS negative_transit_hours,
  IFNULL(SUM(f.created_count), 0) AS created_total,
  IFNULL(SUM(f.delivered_count), 0) AS delivered_total,
  -- facts -> dimensions (the same build's staged dimensions when gating staging)
  COUNT(IF(f.facility_id IS NOT NULL AND facility.facility_id IS NULL, 1, NULL)) AS orphan_facility_id,
  COUNT(IF(f.carrier_id IS NOT NULL AND carrier.carrier_id IS NULL, 1, NULL)) AS orphan_carrier_id
FROM part AS f
LEFT JOIN (SELECT DISTINCT facility_id FROM curated.dim_facility) AS facility ON facility.facility_id = f.facility_id
LEFT JOIN (SELECT DISTINCT carrier_id FROM curated.dim_carrier) AS carrier ON carrier.carrier_id = f.carrier_id;
