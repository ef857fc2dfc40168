-- One partition of features.ml_delivery_features, with the label its fact row carries (the
-- suite checks they agree). Parameter: @day (DATE).
SELECT
  m.*,
  f.on_time_flag AS fact_on_time_flag
FROM features.ml_delivery_features AS m
LEFT JOIN curated.fact_deliveries AS f ON f.delivery_id = m.delivery_id AND f.delivery_date = @day
WHERE m.delivery_date = @day;
