-- What silver says each gold partition should hold; the suites turn these into row-count
-- and sum bounds. Parameter: @day (DATE).
-- Counts are COUNT(IF(rule broken, 1, NULL)), which is 0 over no rows on every engine
-- (DuckDB's COUNTIF is NULL there, BigQuery's 0).
WITH terminal AS (
  SELECT delivery_id, event_time
  FROM clean.delivery_events
  WHERE delivery_id IS NOT NULL
    AND (
      event_type = 'delivery.completed'
      OR (event_type = 'delivery.failed' AND JSON_VALUE(payload, '$.will_retry') = 'false')
    )
),
first_terminal AS (
  SELECT delivery_id, MIN(event_time) AS first_time, LOGICAL_OR(DATE(event_time) = @day) AS on_day
  FROM terminal
  GROUP BY delivery_id
),
shipments AS (
  SELECT
    COUNT(IF(event_type = 'shipment.created', 1, NULL)) AS created_events,
    COUNT(IF(event_type = 'shipment.delivered', 1, NULL)) AS delivered_events,
    COUNT(*) AS shipment_events
  FROM clean.shipment_events
  WHERE event_time >= TIMESTAMP(@day) AND event_time < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY))
)
SELECT
  -- at least the deliveries whose first outcome is on @day, at most those with any outcome on @day
  (SELECT COUNT(*) FROM first_terminal WHERE DATE(first_time) = @day) AS deliveries_min,
  (SELECT COUNT(IF(on_day, 1, NULL)) FROM first_terminal) AS deliveries_max,
  s.created_events,
  s.delivered_events,
  s.shipment_events
FROM shipments AS s;
