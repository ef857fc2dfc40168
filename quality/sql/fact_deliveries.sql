-- One partition of curated.fact_deliveries, with on_time_flag recomputed from the row's own
-- times so the suite can check the two agree. Parameter: @day (DATE).
SELECT
  f.*,
  CASE
    WHEN f.expected_delivery IS NULL THEN NULL
    ELSE f.status = 'COMPLETED' AND f.delivery_time <= f.expected_delivery
  END AS expected_on_time
FROM curated.fact_deliveries AS f
WHERE f.delivery_date = @day;
