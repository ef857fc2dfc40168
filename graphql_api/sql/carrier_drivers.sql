-- The drivers each carrier onboarded. BigQuery dialect. Parameters: @carrier_ids ARRAY<STRING>.
SELECT DISTINCT carrier_id, driver_id
FROM clean.driver_events
WHERE carrier_id IN UNNEST(@carrier_ids) AND event_type = 'driver.created'
ORDER BY carrier_id, driver_id
