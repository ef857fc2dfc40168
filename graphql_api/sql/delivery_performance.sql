-- Delivery KPIs from silver, one row per delivery (joining every shipment event would multiply
-- rows: the promise comes from one booking per shipment).
-- Grouped by day, facility or carrier. BigQuery dialect.
-- Parameters: @window_start, @window_end TIMESTAMP; @group_by STRING ('day' | 'facility' | 'carrier').
WITH attempts AS (
  SELECT delivery_id, COUNT(*) AS attempt_count
  FROM clean.delivery_events
  WHERE event_type = 'delivery.attempted'
  GROUP BY delivery_id
),
promised AS (
  SELECT shipment_id, TIMESTAMP(JSON_VALUE(payload, '$.expected_delivery')) AS expected_delivery
  FROM clean.shipment_events
  WHERE event_type = 'shipment.created'
  QUALIFY ROW_NUMBER() OVER (PARTITION BY shipment_id ORDER BY event_time DESC, event_id DESC) = 1
),
completed AS (
  SELECT delivery_id, shipment_id, facility_id, carrier_id, event_time AS delivery_time
  FROM clean.delivery_events
  WHERE event_type = 'delivery.completed' AND event_time >= @window_start AND event_time < @window_end
  QUALIFY ROW_NUMBER() OVER (PARTITION BY delivery_id ORDER BY event_time, event_id) = 1
),
facts AS (
  SELECT
    CASE @group_by
      WHEN 'facility' THEN c.facility_id
      WHEN 'carrier' THEN c.carrier_id
      ELSE CAST(DATE(c.delivery_time) AS STRING)
    END AS group_key,
    COALESCE(a.attempt_count, 1) AS attempt_count,
    c.delivery_time <= p.expected_delivery AS on_time
  FROM completed AS c
  LEFT JOIN attempts AS a ON a.delivery_id = c.delivery_id
  LEFT JOIN promised AS p ON p.shipment_id = c.shipment_id
)
SELECT group_key, COUNT(*) AS deliveries, COUNTIF(on_time) AS on_time_deliveries, AVG(attempt_count) AS average_attempts
FROM facts
GROUP BY group_key
ORDER BY group_key
