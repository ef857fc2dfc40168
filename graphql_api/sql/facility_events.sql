-- Every silver event of a batch of facilities (created, capacity changes). BigQuery dialect.
-- Parameters: @facility_ids ARRAY<STRING>.
SELECT facility_id, event_id, event_type, event_time, TO_JSON_STRING(payload) AS payload
FROM clean.facility_events
WHERE facility_id IN UNNEST(@facility_ids)
ORDER BY event_time, event_id
