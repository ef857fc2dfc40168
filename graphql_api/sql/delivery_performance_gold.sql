-- Delivery KPIs from gold (curated.fact_deliveries, one row per delivery), same shape as
-- delivery_performance.sql; used whenever the gold table exists. BigQuery dialect.
-- Parameters: @window_start, @window_end TIMESTAMP; @group_by STRING ('day' | 'facility' | 'carrier').
SELECT
  CASE @group_by
    WHEN 'facility' THEN facility_id
    WHEN 'carrier' THEN carrier_id
    ELSE CAST(delivery_date AS STRING)
  END AS group_key,
  COUNT(*) AS deliveries,
  COUNTIF(on_time_flag) AS on_time_deliveries,
  AVG(attempt_count) AS average_attempts
FROM curated.fact_deliveries
WHERE delivery_time >= @window_start AND delivery_time < @window_end
GROUP BY group_key
ORDER BY group_key
