-- One partition of curated.fact_deliveries reduced to one row of violation counts, computed
-- where the data lives (a pandas frame of millions of rows would cost more than the build).
-- quality/suites.py expects every count to be 0 and row_count within silver's bounds.
-- Parameter: @day (DATE).
-- Counts are COUNT(IF(rule broken, 1, NULL)), which is 0 over no rows on every engine
-- (DuckDB's COUNTIF is NULL there, BigQuery's 0).
WITH part AS (
  SELECT *
  FROM curated.fact_deliveries
  WHERE delivery_date = @day
)
SELECT
  COUNT(*) AS row_count,
  COUNT(IF(f.delivery_id IS NULL, 1, NULL)) AS null_delivery_id,
  COUNT(IF(f.status IS NULL, 1, NULL)) AS null_status,
  COUNT(IF(f.delivery_time IS NULL, 1, NULL)) AS null_delivery_time,
  COUNT(IF(f.attempt_count IS NULL, 1, NULL)) AS null_attempt_count,
  COUNT(f.delivery_id) - COUNT(DISTINCT f.delivery_id) AS duplicate_delivery_id,
  COUNT(IF(f.status NOT IN ('COMPLETED', 'FAILED'), 1, NULL)) AS unknown_status,
  COUNT(IF(f.attempt_count < 0, 1, NULL)) AS negative_attempt_count,
  COUNT(IF(f.first_attempt_time > f.delivery_time, 1, NULL)) AS attempt_after_delivery,
  -- the outcome lands in the partition of its own date
  COUNT(IF(DATE(f.delivery_time) != f.delivery_date, 1, NULL)) AS delivery_time_off_partition,
  -- on_time_flag agrees with the row's own times
  COUNT(IF(f.on_time_flag IS DISTINCT FROM (
    CASE
      WHEN f.expected_delivery IS NULL THEN NULL
      ELSE f.status = 'COMPLETED' AND f.delivery_time <= f.expected_delivery
    END
  ), 1, NULL)) AS on_time_flag_mismatch,
  -- facts -> dimensions (the same build's staged dimensions when gating staging)
  COUNT(IF(f.facility_id IS NOT NULL AND facility.facility_id IS NULL, 1, NULL)) AS orphan_facility_id,
  COUNT(IF(f.carrier_id IS NOT NULL AND carrier.carrier_id IS NULL, 1, NULL)) AS orphan_carrier_id,
  COUNT(IF(f.driver_id IS NOT NULL AND driver.driver_id IS NULL, 1, NULL)) AS orphan_driver_id
FROM part AS f
LEFT JOIN (SELECT DISTINCT facility_id FROM curated.dim_facility) AS facility ON facility.facility_id = f.facility_id
LEFT JOIN (SELECT DISTINCT carrier_id FROM curated.dim_carrier) AS carrier ON carrier.carrier_id = f.carrier_id
LEFT JOIN (SELECT DISTINCT driver_id FROM curated.dim_driver) AS driver ON driver.driver_id = f.driver_id;
