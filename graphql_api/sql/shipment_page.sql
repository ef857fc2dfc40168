-- One page of shipments, oldest booking first, keyset-paginated on (created_at, shipment_id).
-- An empty string / the sentinel timestamps mean "no filter". BigQuery dialect.
-- Parameters: @status, @facility_id, @carrier_id STRING; @created_from, @created_to, @after_time TIMESTAMP;
-- @after_id STRING; @page_limit INT64.
WITH created AS (
  SELECT shipment_id, MIN(event_time) AS created_at, MIN(carrier_id) AS carrier_id
  FROM clean.shipment_events
  WHERE event_type = 'shipment.created'
  GROUP BY shipment_id
),
lifecycle AS (
  SELECT shipment_id, event_type, event_time, facility_id FROM clean.shipment_events
  UNION ALL
  SELECT shipment_id, event_type, event_time, facility_id FROM clean.delivery_events
),
-- Status after the latest status-changing event; "delivered" is terminal. Same rule as
-- graphql_api/shipments.py (a test holds them together).
latest AS (
  SELECT
    shipment_id,
    CASE event_type
      WHEN 'shipment.created' THEN 'created'
      WHEN 'shipment.in_transit' THEN 'in_transit'
      WHEN 'shipment.out_for_delivery' THEN 'out_for_delivery'
      WHEN 'delivery.attempted' THEN 'out_for_delivery'
      WHEN 'delivery.failed' THEN 'delivery_failed'
      WHEN 'delivery.rescheduled' THEN 'delivery_rescheduled'
      WHEN 'shipment.exception' THEN 'exception'
      ELSE 'delivered'
    END AS status
  FROM lifecycle
  WHERE event_type IN (
    'shipment.created', 'shipment.in_transit', 'shipment.out_for_delivery', 'delivery.attempted',
    'delivery.failed', 'delivery.rescheduled', 'shipment.exception', 'delivery.completed', 'shipment.delivered'
  )
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY shipment_id
    ORDER BY
      IF(event_type IN ('delivery.completed', 'shipment.delivered'), 1, 0) DESC,
      event_time DESC,
      CASE event_type
        WHEN 'shipment.created' THEN 0
        WHEN 'shipment.in_transit' THEN 1
        WHEN 'shipment.out_for_delivery' THEN 2
        WHEN 'delivery.attempted' THEN 3
        WHEN 'delivery.failed' THEN 4
        WHEN 'delivery.rescheduled' THEN 5
        WHEN 'shipment.exception' THEN 6
        ELSE 7
      END DESC
  ) = 1
),
at_facility AS (
  SELECT DISTINCT shipment_id FROM lifecycle WHERE facility_id = @facility_id
)
SELECT c.shipment_id, c.created_at, l.status
FROM created AS c
JOIN latest AS l ON l.shipment_id = c.shipment_id
WHERE (@status = '' OR l.status = @status)
  AND (@carrier_id = '' OR c.carrier_id = @carrier_id)
  AND (@facility_id = '' OR c.shipment_id IN (SELECT shipment_id FROM at_facility))
  AND c.created_at >= @created_from
  AND c.created_at < @created_to
  AND (c.created_at > @after_time OR (c.created_at = @after_time AND c.shipment_id > @after_id))
ORDER BY c.created_at, c.shipment_id
LIMIT @page_limit
