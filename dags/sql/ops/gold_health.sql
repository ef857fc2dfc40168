-- gold_health: when gold was last published and how the latest delivery day did.
-- Parameter: @now (TIMESTAMP).
SELECT
  (SELECT TIMESTAMP_DIFF(@now, MAX(built_at), SECOND) / 3600.0 FROM curated.gold_watermarks) AS gold_staleness_hours,
  (SELECT MAX(delivery_date) FROM curated.fact_deliveries) AS latest_delivery_date,
  (
    SELECT SAFE_DIVIDE(COUNTIF(on_time_flag), COUNTIF(on_time_flag IS NOT NULL))
    FROM curated.fact_deliveries
    WHERE delivery_date = (SELECT MAX(delivery_date) FROM curated.fact_deliveries)
  ) AS on_time_rate;
