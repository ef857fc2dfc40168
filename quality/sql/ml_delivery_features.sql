-- One partition of features.ml_delivery_features reduced to one row of violation counts.
-- quality/suites.py expects every count to be 0 and exactly one row per fact_deliveries row
-- of the same partition. Parameter: @day (DATE).
-- Counts are COUNT(IF(rule broken, 1, NULL)), which is 0 over no rows on every engine
-- (DuckDB's COUNTIF is NULL there, BigQuery's 0).
WITH part AS (
  SELECT *
  FROM features.ml_delivery_features
  WHERE delivery_date = @day
),
facts AS (  -- one row per delivery even if the fact partition is corrupt (its own gate says so)
  SELECT delivery_id, ANY_VALUE(on_time_flag) AS on_time_flag
  FROM curated.fact_deliveries
  WHERE delivery_date = @day
  GROUP BY delivery_id
)
SELECT
  COUNT(*) AS row_count,
  COUNT(IF(m.delivery_id IS NULL, 1, NULL)) AS null_delivery_id,
  COUNT(IF(m.feature_time IS NULL, 1, NULL)) AS null_feature_time,
  COUNT(IF(m.label_time IS NULL, 1, NULL)) AS null_label_time,
  COUNT(m.delivery_id) - COUNT(DISTINCT m.delivery_id) AS duplicate_delivery_id,
  -- point in time: features are taken at or before the label is known
  COUNT(IF(m.label_time < m.feature_time, 1, NULL)) AS feature_after_label,
  -- the label is the fact's on_time_flag (a feature row without its fact counts too)
  COUNT(IF(f.delivery_id IS NULL OR m.label_on_time IS DISTINCT FROM f.on_time_flag, 1, NULL)) AS label_mismatch,
  COUNT(IF(m.carrier_on_time_rate_7d NOT BETWEEN 0 AND 1, 1, NULL)) AS rate_7d_out_of_range,
  COUNT(IF(m.carrier_on_time_rate_30d NOT BETWEEN 0 AND 1, 1, NULL)) AS rate_30d_out_of_range,
  COUNT(IF(m.facility_load_ratio < 0, 1, NULL)) AS negative_load_ratio,
  COUNT(IF(m.prior_attempts < 0, 1, NULL)) AS negative_prior_attempts,
  -- features -> dimensions (the same build's staged dimensions when gating staging)
  COUNT(IF(m.facility_id IS NOT NULL AND facility.facility_id IS NULL, 1, NULL)) AS orphan_facility_id,
  COUNT(IF(m.carrier_id IS NOT NULL AND carrier.carrier_id IS NULL, 1, NULL)) AS orphan_carrier_id
FROM part AS m
LEFT JOIN facts AS f ON f.delivery_id = m.delivery_id
LEFT JOIN (SELECT DISTINCT facility_id FROM curated.dim_facility) AS facility ON facility.facility_id = m.facility_id
LEFT JOIN (SELECT DISTINCT carrier_id FROM curated.dim_carrier) AS carrier ON carrier.carrier_id = m.carrier_id;
