-- Delivery events per driver, newest first: the driver's current assignment is the newest
-- delivery that has not reached a terminal state. BigQuery dialect.
-- Parameters: @driver_ids ARRAY<STRING>.
SELECT driver_id, delivery_id, shipment_id, event_type, event_time
FROM clean.delivery_events
WHERE driver_id IN UNNEST(@driver_ids)
ORDER BY event_time DESC, event_id DESC
